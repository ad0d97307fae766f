"""Evidence mode: the index round trip and its refusals, claims, the seeds' ranking,
no_evidence on unrelated news, the CLI, and a consistency head trained here on real pairs."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import SEED_HUMAN, SEED_MACHINE, SHARED_DATA

from fabscore import cli
from fabscore.evidence import EvidenceError, build, load
from fabscore.evidence.claims import extract
from fabscore.model_dir import write_manifest

INVENTED = ("Lavrov", "Eboe-Osuji", "March 14th", "March 15th", "Borrell", "Blinken", "Dutch security forces")


def unrelated_news(n: int) -> list[str]:
    """n human articles from usnews_mar2023 (22-26 March 2023) that do not mention the ICC story."""
    rows = [json.loads(line) for line in (SHARED_DATA / "usnews_mar2023_human.clean.jsonl").open()]
    story = ("ICC", "Criminal Court", "Putin", "Medvedev", "Hague")
    return [r["text"] for r in rows if not any(w in r["text"] for w in story)][:n]


@pytest.fixture(scope="module")
def seed_index():
    return build([str(SEED_HUMAN)])


@pytest.fixture(scope="module")
def detector():
    from fabscore import load_detector

    return load_detector()


# ---------------------------------------------------------------- the index
def test_index_round_trip(seed_index, tmp_path):
    seed_index.save(tmp_path / "idx")
    again = load(tmp_path / "idx")
    assert [s.as_dict() for s in again.sentences] == [s.as_dict() for s in seed_index.sentences]
    q = seed_index.vectors[[0, 3, 5]]
    assert np.array_equal(again.search(q, 3)[1], seed_index.search(q, 3)[1])
    assert np.array_equal(again.search(q, 1)[1][:, 0], [0, 3, 5])  # a sentence finds itself
    first = again.sentences[0]
    assert SEED_HUMAN.read_text()[first.start:first.end] == first.text  # offsets into the reference text


def _tamper_change(d: Path) -> str:
    rows = json.loads((d / "sentences.json").read_text())
    rows[0]["text"] = "The court was never threatened."
    (d / "sentences.json").write_text(json.dumps(rows))
    return r"sentences\.json was changed after the evidence index was saved"


def _tamper_unknown(d: Path) -> str:
    (d / "notes.txt").write_text("hello")
    return r"unexpected file 'notes\.txt'"


def _tamper_pickle(d: Path) -> str:
    (d / "faiss.pkl").write_bytes(pickle.dumps({"x": 1}))
    write_manifest(d)  # even listed in the manifest, a pickle is not a file an index contains
    return r"refusing 'faiss\.pkl': not a file a fabscore evidence index contains"


def _rewrite_config(**changes):
    def tamper(d: Path) -> str:
        cfg = json.loads((d / "index.json").read_text())
        for k, v in changes.items():
            cfg[k] = v(cfg[k]) if callable(v) else v
        (d / "index.json").write_text(json.dumps(cfg))
        write_manifest(d)  # a consistent manifest: only the version check stands in the way
        return {"format_version": "format version 2", "normalization_version": "normalization_version '0-other'",
                "encoder": "embedded by another encoder"}[next(iter(changes))]
    return tamper


TAMPERINGS = {"changed-file": _tamper_change, "unknown-file": _tamper_unknown, "pickle": _tamper_pickle,
              "format-version": _rewrite_config(format_version=2),
              "normalization": _rewrite_config(normalization_version="0-other"),
              "encoder": _rewrite_config(encoder=lambda e: {**e, "weights_sha256": "0" * 64})}


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_tampered_or_foreign_index_refused(seed_index, tmp_path, case):
    d = seed_index.save(tmp_path / "idx")
    load(d)  # the control: untouched, it loads
    message = TAMPERINGS[case](d)
    with pytest.raises(EvidenceError, match=message):
        load(d)


def test_index_cli_skips_unreadable_and_refuses_empty(tmp_path, capsys):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "a.txt").write_text(SEED_HUMAN.read_text())
    (refs / "b.txt").write_bytes(b"\x00\x01binary\x00")
    assert cli.main(["index", str(refs), "--out", str(tmp_path / "idx")]) == 0
    err = capsys.readouterr().err
    assert "b.txt: skipped: binary file" in err and "from 1 articles" in err
    assert len({s.id for s in load(tmp_path / "idx").sentences}) == 1
    (refs / "a.txt").unlink()
    assert cli.main(["index", str(refs), "--out", str(tmp_path / "idx2")]) == 2
    assert "no evidence" in capsys.readouterr().err
    assert not (tmp_path / "idx2").exists()


# ---------------------------------------------------------------- claims
def test_claims_are_entities_numbers_dates_quotes_with_offsets():
    text = SEED_MACHINE.read_text()
    from fabscore.text import prepare

    sents = prepare(text).sentences
    claims = extract([s.text for s in sents])
    found = {(c.text, c.kind) for cs in claims for c in cs}
    assert ("Chile Eboe-Osuji", "entity") in found and ("March 14th", "date") in found
    assert any(k == "quote" and t.startswith("an instrument of Western imperialism") for t, k in found)
    for s, cs in zip(sents, claims):
        for c in cs:
            assert text[s.start + c.start:s.start + c.end] == c.text


# ---------------------------------------------------------------- scoring with evidence
@pytest.mark.slow
def test_seed_against_itself_is_supported_and_writing_score_unchanged(detector):
    text = SEED_HUMAN.read_text()
    plain = detector.score(text)[0]
    rec = detector.score(text, evidence=[str(SEED_HUMAN)])[0]
    assert (rec["score"], rec["label"]) == (plain["score"], plain["label"])
    assert plain["evidence_summary"] is None and all(s["status"] is None for s in plain["sentences"])
    assert [s["status"] for s in rec["sentences"]] == ["supported"] * len(rec["sentences"])
    assert rec["evidence_summary"]["n_unsupported"] == 0
    assert all(s["evidence"][0]["similarity"] > 0.99 for s in rec["sentences"])


@pytest.mark.slow
def test_seed_002_invented_sentences_rank_lowest(detector, seed_index):
    rec = detector.score(SEED_MACHINE.read_text(), evidence=seed_index)[0]
    ranked = sorted((s for s in rec["sentences"] if s["support"] is not None), key=lambda s: s["support"])
    lowest = ranked[:3]
    # measured (docs/evidence.md): 2 of the 3 lowest carry invented specifics (Eboe-Osuji, Borrell);
    # the third is the article's closing opinion, which seed 000 does not back either
    assert sum(any(w in s["text"] for w in INVENTED) for s in lowest) >= 2, [s["text"][:60] for s in lowest]
    assert "Eboe-Osuji" in lowest[0]["text"]
    assert rec["evidence_summary"]["n_unsupported"] >= 3
    eboe = next(s for s in rec["sentences"] if "Eboe-Osuji" in s["text"])
    assert any(c["text"] == "Chile Eboe-Osuji" and c["supported"] is False for c in eboe["claims"])


@pytest.mark.slow
def test_unrelated_evidence_gives_no_evidence_not_unsupported(detector):
    rec = detector.score(SEED_HUMAN.read_text(), evidence=unrelated_news(50))[0]
    statuses = [s["status"] for s in rec["sentences"]]
    assert "unsupported" not in statuses, statuses
    assert statuses.count("no_evidence") >= 0.8 * len(statuses)
    assert all(s["support"] is None for s in rec["sentences"] if s["status"] == "no_evidence")


@pytest.mark.slow
def test_cli_score_with_evidence_and_resume(tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    args = ["score", str(SEED_MACHINE), str(SEED_HUMAN), "--evidence", str(SEED_HUMAN), "--out", str(out)]
    assert cli.main(args) == 0
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 2 and all(r["evidence_summary"]["n_sentences_checked"] > 0 for r in recs)
    assert cli.main([*args, "--resume"]) == 0
    assert len(out.read_text().splitlines()) == 2
    capsys.readouterr()
    assert cli.main(["score", str(SEED_MACHINE), "--evidence", str(tmp_path / "missing-dir")]) == 2
    err = capsys.readouterr().err
    assert "no evidence" in err and "missing-dir" in err


# ---------------------------------------------------------------- a consistency head trained here
@pytest.mark.slow
def test_small_consistency_head_trained_on_real_pairs(tmp_path):
    from fabscore.evidence.annotate import check_sentences
    from fabscore.evidence.checker import Checker, load_checker
    from fabscore.evidence.features import TOP_K
    from fabscore.training.consistency import build_split, read
    from fabscore.training.fit import fit_head

    rows = [r for r in read("usnews_mar2023_human.clean.jsonl") if 150 <= len(r["text"].split()) <= 500][:8]
    outside = [r for r in read("iu_news.clean.jsonl") if r["label"] == "human"][:3]
    rng = np.random.default_rng(0)
    pool, pairs, _ = build_split(rows, [], outside, rng, 3, 0, lambda m: None)
    checked = check_sentences([p.text for p in pairs], pool, TOP_K)
    y = np.array([p.label for p in pairs])
    assert 10 <= y.sum() < len(y)
    fit = fit_head(checked.X, y, np.array([p.story for p in pairs]), n_splits=3, fprs=())
    assert max(fit.cv_auroc.values()) > 0.8  # grouped-CV AUROC on these real pairs
    model = tmp_path / "model"
    model.mkdir()
    for f in Path(__import__("fabscore.model_dir", fromlist=["SHIPPED"]).SHIPPED / "default").iterdir():
        if f.name not in ("consistency_head.safetensors", "consistency.json"):
            (model / f.name).write_bytes(f.read_bytes())
    Checker(fit.head, 0.45, TOP_K).save(model)
    write_manifest(model)
    again = load_checker(model)
    assert np.allclose(again.head.predict_proba(checked.X), fit.head.predict_proba(checked.X))
