"""Evidence mode against human judgements and its one verdict entry point: judge() decides status and
claim verdicts for every caller; a claim's status over its sentences; the human-labelled pairs, their
passages and the leave-one-dataset-out table; a long passage never overflowing MiniLM."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from fabscore.evidence import verdicts as V
from fabscore.evidence.claims import extract, key_tokens


def _judge(sentence: str, evidence: list[str], support: float, relevant: bool = True) -> V.Judgement:
    toks = [set(key_tokens(e)) for e in evidence]
    arts = set().union(*toks) if toks else set()
    return V.judge(sentence, extract([sentence])[0], support, relevant, evidence, toks, arts,
                   lambda i: extract([evidence[i]])[0])


def test_judge_decides_status_and_claim_verdicts():
    ev = ["The city council approved the budget of 4 million dollars on Friday, the mayor said."]
    same = "The city council approved the budget of 4 million dollars on Friday."
    assert _judge(same, ev, 0.9).status == "supported"
    assert _judge(same, ev, 0.2).status == "unverified"  # the head's support decides, at SUPPORT_CUT
    j = _judge(same.replace("4 million", "9 million"), ev, 0.9)
    assert j.status == "contradicted" and [v.verdict for v in j.claims if "9" in v.claim.text] == ["conflicting"]
    j = _judge("The city council has not approved the budget of 4 million dollars on Friday.", ev, 0.9)
    assert j.status == "contradicted" and j.negation_at == 0
    j = _judge(same, ev, 0.9, relevant=False)
    assert j.status == "no_evidence" and all(v.verdict is None for v in j.claims)
    j = _judge("Council member Jane Doe approved the budget of 4 million dollars on Friday.", ev, 0.9)
    assert j.status == "unverified" and any(v.verdict == "absent" and "Jane Doe" in v.claim.text for v in j.claims)


def test_claim_status_over_sentences():
    assert V.claim_status(["supported", "supported"]) == "supported"
    assert V.claim_status(["supported", "no_evidence"]) == "unverified"  # part of it is not backed
    assert V.claim_status(["no_evidence", "no_evidence"]) == "no_evidence"
    assert V.claim_status(["supported", "contradicted", "unverified"]) == "contradicted"
    assert V.claim_status([]) is None


def test_a_long_passage_is_cut_by_the_tokenizer_and_nothing_warns(caplog):
    """One "sentence" of ~1,000 tokens (a passage with no full stop): the encoder gets at most its
    trained length, cut by the tokenizer, so transformers never logs that a sequence is longer than
    the model takes (it used to reach the terminal from det.check)."""
    from fabscore.evidence.index import encode

    long_passage = " ".join(["the court, which is based in The Hague, said it would not be intimidated"] * 80)
    with caplog.at_level(logging.WARNING):
        v = encode([long_passage, long_passage[:200]])
    assert v.shape == (2, 384) and np.isfinite(v).all()
    assert not [r for r in caplog.records if "longer than the specified maximum" in r.getMessage()]


def test_human_pairs_labels_families_and_groups():
    """Every set of human judgements read as (claim, source, label): supported = 1; refuted, not
    supported and not enough information = 0; refuted told apart only where the set does; BEGIN and
    FaithDial one family; a group never split by the per-set draw."""
    from conftest import SHARED_DATA

    from fabscore.training.evidence import human_pairs as H

    if not (SHARED_DATA / "evidence" / "claims").is_dir():
        pytest.skip("the shared human-labelled pairs are not beside this checkout")
    pairs = H.load(SHARED_DATA, per_dataset=200, seed=0)
    sets = {p.dataset for p in pairs}
    assert set(H.REPORTED) <= sets and all(p.label in (0, 1) and p.claim and p.evidence for p in pairs)
    assert {p.refuted for p in pairs if p.dataset == "summedits"} == {None}
    assert {p.refuted for p in pairs if p.dataset == "covidfact"} == {True, False}
    assert all(p.label == 0 for p in pairs if p.refuted)
    assert {p.family for p in pairs if p.dataset in ("begin", "faithdial")} == {"begin"}
    full = H.claim_file("summedits", SHARED_DATA)
    drawn = [p for p in pairs if p.dataset == "summedits"]
    for g in {p.group for p in drawn}:
        assert sum(p.group == g for p in drawn) == sum(p.group == g for p in full)
    q = [p for p in pairs if p.dataset == "qags_cnndm"]
    assert q and all(p.refuted is None for p in q)


def test_leave_one_dataset_out_head_on_real_pairs(tmp_path, monkeypatch):
    """The trainer's human-pair path on real pairs: passages chosen and cached (a second build reads the
    cache), and the leave-one-dataset-out table: one head per family left out, each set scored by the
    head that never saw it, beside an earlier head."""
    from conftest import SHARED_DATA

    from fabscore.models.head import LinearHead
    from fabscore.training.evidence import human_pairs as H
    from fabscore.training.evidence import human_passages
    from fabscore.training.evidence.train import HumanRows, human_lodo

    if not (SHARED_DATA / "evidence" / "claims").is_dir():
        pytest.skip("the shared human-labelled pairs are not beside this checkout")
    monkeypatch.setenv("FABSCORE_CACHE", str(tmp_path / "cache"))
    pairs = [p for p in H.load(SHARED_DATA, per_dataset=12, seed=1) if p.dataset in ("bump", "wice", "dialfact")]
    passages, X = human_passages.build(pairs)
    assert len(list((tmp_path / "cache" / "evidence-passages").glob("*.npz"))) == 1
    again, X2 = human_passages.build(pairs)
    assert again == passages and np.array_equal(X, X2)
    assert all(p and len(p) <= len(pair.evidence) + 5 for p, pair in zip(passages, pairs))
    datasets = np.array([p.dataset for p in pairs])
    rows = HumanRows(X, np.array([p.label for p in pairs]), np.array([p.group for p in pairs]), datasets,
                     np.array([p.family for p in pairs]), np.ones(len(pairs), dtype=bool))
    before = LinearHead(Cs=(0.1,)).fit(X, rows.y)
    table = human_lodo(rows, X[:0], rows.y[:0], rows.groups[:0], 0.1, 0, before, lambda m: None)
    assert set(table["sets"]) == {"bump", "wice", "dialfact"}
    for v in table["sets"].values():
        assert {"head", "head_before"} <= set(v) and 0 <= v["head"]["auroc"] <= 1 and 0 <= v["head"]["bacc"] <= 1
    means = np.mean([v["head"]["auroc"] for v in table["sets"].values()])
    assert table["mean"]["head"]["auroc"] == pytest.approx(means, abs=1e-4)
