"""Evidence mode: the index round trip and its refusals, claims, the seeds' ranking,
no_evidence on unrelated news, the verdict rules, checking any text (the API and `fabscore check`),
the table, CSV and --claims-out, and a consistency head trained here on real pairs."""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SEED_HUMAN, SEED_MACHINE, SHARED_DATA, shared_file

from fabscore.cli import commands as cli
from fabscore.evidence import EvidenceError, build, load
from fabscore.evidence.claims import extract
from fabscore.models.directory import write_manifest
from fabscore.training.evidence.evaluate import INVENTED


def unrelated_news(n: int) -> list[str]:
    from fabscore.training.evidence.evaluate import unrelated_news

    return unrelated_news(n, SHARED_DATA)


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
    assert again.vectors.dtype == np.float16 and np.array_equal(again.vectors, seed_index.vectors)
    q = seed_index.vectors[[0, 3, 5]]
    assert np.array_equal(again.search(q, 3)[1], seed_index.search(q, 3)[1])
    assert np.array_equal(again.search(q, 1)[1][:, 0], [0, 3, 5])  # a sentence finds itself
    first = again.sentences[0]
    assert SEED_HUMAN.read_text()[first.start:first.end] == first.text  # offsets into the reference text


def test_sentence_table_behaves_like_the_list_of_sentences(seed_index):
    from fabscore.evidence.table import EvidenceSentence, SentenceTable

    listed = [EvidenceSentence(s.path, s.id, s.start, s.end, s.text) for s in seed_index.sentences]
    table = SentenceTable.from_sentences(listed)
    assert len(table) == len(listed) and list(table) == listed and [s.text for s in table] == table.texts
    assert table[np.int64(3)] == listed[3] and table[-1] == listed[-1] and table[2:5] == listed[2:5]
    assert table[0].as_dict() == listed[0].as_dict()
    assert len(table.paths) == 1 and table.article.dtype == np.int32  # one article: its path and id kept once
    with pytest.raises(IndexError):
        table[len(listed)]


def test_float16_vectors_give_the_float32_top_k(seed_index):
    """Stored and held as float16: the fp32 embeddings' top 5 up to the rounding, cosines within 1e-3."""
    from fabscore.evidence import index as ix
    from fabscore.evidence import search
    from fabscore.text.normalize import normalize

    v32 = ix.encode([normalize(t) for t in seed_index.sentences.texts])
    q = np.concatenate([v32[[0, 3, 5]], ix.encode(["The court was never threatened by anyone."])])
    s32, i32 = search.exact_search(v32, q, 5)
    s16, i16 = seed_index.search(q, 5)
    assert seed_index.vectors.dtype == np.float16
    assert np.allclose(s16, s32, atol=1e-3)
    assert np.allclose(np.take_along_axis(q @ v32.T, i16, 1), s32, atol=1e-3)  # a top 5 up to the rounding


def test_float16_search_a_block_at_a_time_matches_float32():
    """exact_search and the FAISS lists over float16 vectors longer than one block (_BLOCK rows
    converted at a time) give what float32 gives on the same (rounded) values."""
    import faiss

    from fabscore.evidence import search

    rng = np.random.default_rng(0)
    v = rng.standard_normal((2 * search._BLOCK + 123, 64), dtype=np.float32)
    v16 = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16)
    v32 = v16.astype(np.float32)
    q = v32[rng.integers(len(v32), size=20)] + 0.1 * rng.standard_normal((20, 64), dtype=np.float32)
    s, i = search.exact_search(v16, q, 5)
    full = q @ v32.T
    assert np.array_equal(i, np.argsort(-full, axis=1, kind="stable")[:, :5])
    assert np.allclose(s, np.take_along_axis(full, i, 1), atol=1e-5)
    ivf = search.train_ivf(v16)
    assert np.array_equal(ivf.assign, search.train_ivf(v32).assign)  # the same float32 values, block by block
    index = search.faiss_index(v16, ivf)
    quantizer = faiss.IndexFlatIP(64)
    quantizer.add(ivf.centroids)
    ref = faiss.IndexIVFFlat(quantizer, 64, ivf.nlist, faiss.METRIC_INNER_PRODUCT)
    ref.add(v32)
    ref.nprobe = index.nprobe
    assert index.ntotal == len(v16) and np.array_equal(index.search(q, 5)[1], ref.search(q, 5)[1])


def _tamper_change(d: Path) -> str:
    table = json.loads((d / "sentences.json").read_text())
    table["sentences"]["text"][0] = "The court was never threatened."
    (d / "sentences.json").write_text(json.dumps(table))
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
        return {"format_version": "format version 4", "normalization_version": "normalization_version '0-other'",
                "encoder": "embedded by another encoder"}[next(iter(changes))]
    return tamper


TAMPERINGS = {"changed-file": _tamper_change, "unknown-file": _tamper_unknown, "pickle": _tamper_pickle,
              "format-version": _rewrite_config(format_version=4),
              "normalization": _rewrite_config(normalization_version="0-other"),
              "encoder": _rewrite_config(encoder=lambda e: {**e, "weights_sha256": "0" * 64})}


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_tampered_or_foreign_index_refused(seed_index, tmp_path, case):
    d = seed_index.save(tmp_path / "idx")
    load(d)  # the control: untouched, it loads
    message = TAMPERINGS[case](d)
    with pytest.raises(EvidenceError, match=message):
        load(d)


def _save_version_1(index, d: Path) -> Path:
    """The index as fabscore wrote format version 1: float32 vectors, one JSON object per sentence."""
    from safetensors.numpy import save_file

    index.save(d)
    save_file({"vectors": index.vectors.astype(np.float32)}, str(d / "vectors.safetensors"))
    (d / "sentences.json").write_text(json.dumps([{k: v for k, v in s.as_dict().items() if k not in ("title", "url")}
                                                  for s in index.sentences]))
    cfg = json.loads((d / "index.json").read_text())
    (d / "index.json").write_text(json.dumps({**cfg, "format_version": 1}))
    write_manifest(d)
    return d


def _save_version_2(index, d: Path) -> Path:
    """The index as fabscore wrote format version 2: no title or url per article."""
    index.save(d)
    table = json.loads((d / "sentences.json").read_text())
    table["articles"] = {k: table["articles"][k] for k in ("path", "id")}
    (d / "sentences.json").write_text(json.dumps(table))
    cfg = json.loads((d / "index.json").read_text())
    (d / "index.json").write_text(json.dumps({**cfg, "format_version": 2}))
    write_manifest(d)
    return d


@pytest.mark.parametrize("version", [1, 2])
def test_older_index_refused_with_exit_2_and_the_remedy(seed_index, tmp_path, capsys, version):
    d = (_save_version_1 if version == 1 else _save_version_2)(seed_index, tmp_path / f"v{version}")
    message = (rf"evidence index format version {version}; this fabscore reads version 3 "
               r"\(rebuild it with fabscore index\)")
    with pytest.raises(EvidenceError, match=message):
        load(d)
    assert cli.main(["score", str(SEED_MACHINE), "--evidence", str(d)]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_title_and_url_of_a_data_set_kept_with_each_reference(tmp_path):
    """A data set's title and url fields are kept per article (null where a row has none, or a file has
    none), stored in the index, and given with every evidence sentence."""
    refs = tmp_path / "refs.jsonl"
    text = SEED_HUMAN.read_text()
    rows = [{"id": "icc", "text": text, "title": "  Russia threatens\nthe ICC ", "url": "https://example.org/icc"},
            {"id": "plain", "text": unrelated_news(1)[0], "title": 7}]
    refs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    index = build([str(refs), str(SEED_MACHINE)])
    again = load(index.save(tmp_path / "idx"))
    by_id = {s.id: s for s in again.sentences}
    assert (by_id["icc"].title, by_id["icc"].url) == ("Russia threatens the ICC", "https://example.org/icc")
    assert (by_id["plain"].title, by_id["plain"].url) == (None, None)  # not a string: not a title
    assert by_id[str(SEED_MACHINE)].as_dict()["title"] is None
    first = next(s for s in again.sentences if s.id == "icc")
    assert first.as_dict() == {"path": str(refs), "id": "icc", "title": "Russia threatens the ICC",
                               "url": "https://example.org/icc", "start": first.start, "end": first.end,
                               "text": text[first.start:first.end]}
    assert len(again.sentences.titles) == len(again.sentences.paths) == 3  # kept once per article


def _sentences(change):
    """Rewrite sentences.json through change(table) and re-hash: only the column checks stand in the way."""
    def tamper(d: Path) -> str:
        table = json.loads((d / "sentences.json").read_text())
        message = change(table)
        (d / "sentences.json").write_text(json.dumps(table))
        write_manifest(d)
        return message
    return tamper


def _vectors(arrays):
    def tamper(d: Path) -> str:
        from safetensors.numpy import save_file

        save_file(arrays(load(d).vectors), str(d / "vectors.safetensors"))
        write_manifest(d)
        return r"vectors\.safetensors: holds .* vectors; this index needs .* float16"
    return tamper


def _set(column: str, j: int, value, message: str):
    def change(t: dict) -> str:
        part = t["articles"] if column in ("path", "id", "title", "url") else t["sentences"]
        part[column][j] = value
        return message
    return change


def _drop_last_start(t: dict) -> str:
    t["sentences"]["start"].pop()
    return r"the sentences columns differ in length \(article \d+, start \d+, end \d+, text \d+\)"


def _ends_before_start(t: dict) -> str:
    s = t["sentences"]
    s["start"][2], s["end"][2] = s["end"][2], s["start"][2]
    return r"sentence 2 ends before it starts"


def _no_text(t: dict) -> str:
    del t["sentences"]["text"]
    return r"'sentences' must be an object of the lists 'article', 'start', 'end', 'text'"


COLUMN_TAMPERINGS = {
    "lengths": _sentences(_drop_last_start), "end-before-start": _sentences(_ends_before_start),
    "article-out-of-range": _sentences(_set("article", 4, 1, r"sentence 4 names an article outside the 1 in")),
    "negative-start": _sentences(_set("start", 1, -3, r"sentence 1 starts before its article")),
    "float-offset": _sentences(_set("end", 0, 12.5, r"sentences\.end holds a value that is not an integer")),
    "bool-article": _sentences(_set("article", 0, True, r"sentences\.article holds a value that is not an integer")),
    "text-not-string": _sentences(_set("text", 0, 7, r"sentences\.text holds a value that is not a string")),
    "title-not-string": _sentences(_set("title", 0, 7, r"articles\.title holds a value that is not a string or null")),
    "missing-column": _sentences(_no_text),
    "float32-vectors": _vectors(lambda v: {"vectors": v.astype(np.float32)}),
    "one-vector-short": _vectors(lambda v: {"vectors": v[:-1].copy()}),
}


@pytest.mark.parametrize("case", list(COLUMN_TAMPERINGS))
def test_inconsistent_columns_refused(seed_index, tmp_path, case):
    d = seed_index.save(tmp_path / "idx")
    message = COLUMN_TAMPERINGS[case](d)
    with pytest.raises(EvidenceError, match=message):
        load(d)


# ---------------------------------------------------------------- the stored IVF structure
@pytest.fixture(scope="module")
def ivf_index():
    """Seed 000 and 10 unrelated articles (real MiniLM vectors), its IVF structure computed."""
    from fabscore.evidence import build_from_texts

    index = build_from_texts([SEED_HUMAN.read_text(), *unrelated_news(10)])
    index.search(index.vectors[:1], 1)  # small: exact search, no IVF yet
    assert index.ivf is None
    return index


def test_index_stores_the_ivf_structure_and_loads_it_without_clustering(ivf_index, tmp_path):
    from fabscore.evidence import search

    d = ivf_index.save(tmp_path / "idx", ivf=True)
    assert "ivf.safetensors" in json.loads((d / "MANIFEST.json").read_text())["files"]
    cfg = json.loads((d / "index.json").read_text())["ivf"]
    assert cfg["nlist"] == ivf_index.ivf.nlist >= 16 and cfg["nprobe"] == search.FAISS_NPROBE
    again = load(d)
    assert np.array_equal(again.ivf.assign, ivf_index.ivf.assign)
    assert np.array_equal(again.ivf.centroids, ivf_index.ivf.centroids)
    q = ivf_index.vectors[::5]
    sims, idx = again.search(q, 3)  # through FAISS: the index has an IVF structure
    assert again._faiss is not None and again._faiss.ntotal == len(ivf_index)
    exact_sims, _ = search.exact_search(ivf_index.vectors, q, 3)
    assert np.allclose(sims[:, 0], exact_sims[:, 0], atol=1e-5) and (sims[:, 0] > 0.999).all()  # finds itself
    import faiss  # the same neighbours as FAISS's own IVF over these centroids, assigning the vectors itself

    quantizer = faiss.IndexFlatIP(q.shape[1])
    quantizer.add(ivf_index.ivf.centroids)
    ref = faiss.IndexIVFFlat(quantizer, q.shape[1], ivf_index.ivf.nlist, faiss.METRIC_INNER_PRODUCT)
    ref.add(ivf_index.vectors)
    ref.nprobe = search.FAISS_NPROBE
    assert np.array_equal(idx, ref.search(q, 3)[1])
    plain = load(ivf_index.save(tmp_path / "plain", ivf=False))  # small indexes store none by default
    assert plain.ivf is None and not (tmp_path / "plain" / "ivf.safetensors").exists()


def _ivf_arrays(change):
    def tamper(d: Path) -> str:
        from safetensors.numpy import load_file, save_file

        arrays = load_file(str(d / "ivf.safetensors"))
        message = change(arrays)
        save_file(arrays, str(d / "ivf.safetensors"))
        write_manifest(d)  # a consistent manifest: only the check against the vectors stands in the way
        return message
    return tamper


def _moved(a: dict) -> str:
    a["assign"] = (a["assign"] + 1) % len(a["centroids"])  # every sentence in a list that is not its nearest
    return r"not made for these vectors"


def _out_of_range(a: dict) -> str:
    a["assign"][3] = len(a["centroids"])
    return r"assigns .* list numbers"


def _ivf_unnamed(d: Path) -> str:
    cfg = json.loads((d / "index.json").read_text())
    cfg["ivf"] = None
    (d / "index.json").write_text(json.dumps(cfg))
    write_manifest(d)
    return r"names no IVF structure"


def _ivf_removed(d: Path) -> str:
    (d / "ivf.safetensors").unlink()
    write_manifest(d)
    return r"ivf\.safetensors is missing"


IVF_TAMPERINGS = {"moved": _ivf_arrays(_moved), "out-of-range": _ivf_arrays(_out_of_range),
                  "unnamed": _ivf_unnamed, "removed": _ivf_removed}


@pytest.mark.parametrize("case", list(IVF_TAMPERINGS))
def test_tampered_ivf_structure_refused(ivf_index, tmp_path, case):
    d = ivf_index.save(tmp_path / "idx", ivf=True)
    message = IVF_TAMPERINGS[case](d)
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
def test_relevance_cut_depends_on_pool_size_within_the_measured_range():
    from fabscore.evidence.checker import RelevanceCut, load_checker

    cut = RelevanceCut(0.2, 0.05, 36, 10_000)
    assert cut(36) < cut(1_000) < cut(10_000) and cut(1) == cut(36) and cut(10**6) == cut(10_000)
    assert RelevanceCut.from_config(0.586)(10**6) == 0.586  # a model with one fixed cut still loads
    assert RelevanceCut.from_config(cut.as_dict()) == cut
    for bad in ({"intercept": 0.9, "slope": 0.1, "n_min": 10, "n_max": 10_000}, -0.1, True, "0.5"):
        with pytest.raises(ValueError):
            RelevanceCut.from_config(bad)
    shipped = load_checker()  # fitted on pools of tens to thousands of sentences
    assert shipped.relevance.n_min < 100 < 10_000 < shipped.relevance.n_max
    assert 0.3 < shipped.relevance_cut(16) < shipped.relevance_cut(3_500) < shipped.relevance_cut(10**6) < 0.8


def test_relevance_curve_measures_the_best_unrelated_cosine_by_pool_size():
    """On random unit vectors the best cosine of an unrelated probe rises with the pool: the curve
    rises, the line in ln(size) fits it, and a probe's own article never counts."""
    from fabscore.training.evidence.relevance import relevance_curve

    rng = np.random.default_rng(0)
    pool = rng.standard_normal((4_000, 32)).astype(np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    article = np.repeat(np.arange(400), 10)
    probes = pool[:50] + 0.01  # near-copies of article 0-4's sentences: masked as their own article
    fit, table = relevance_curve(probes, pool, article, article[:50], np.random.default_rng(1))
    cuts = [t["cut"] for t in table]
    assert table[0]["pool_sentences"] >= 16 and table[-1]["pool_sentences"] == 4_000
    assert cuts[-1] > cuts[0] and fit.slope > 0 and max(cuts) < 0.9  # never their own copies (cosine ~1)
    assert all(abs(t["fitted"] - t["cut"]) < 0.05 for t in table)


def test_claims_are_entities_numbers_dates_quotes_with_offsets():
    text = SEED_MACHINE.read_text()
    from fabscore.text.sentences import prepare

    sents = prepare(text).sentences
    claims = extract([s.text for s in sents])
    found = {(c.text, c.kind) for cs in claims for c in cs}
    assert ("Chile Eboe-Osuji", "entity") in found and ("March 14th", "date") in found
    assert any(k == "quote" and t.startswith("an instrument of Western imperialism") for t, k in found)
    for s, cs in zip(sents, claims):
        for c in cs:
            assert text[s.start + c.start:s.start + c.end] == c.text


# ---------------------------------------------------------------- the verdict rules
def _claims(text: str, *subs: tuple[str, str, str]):
    from fabscore.evidence.claims import Claim

    return [Claim(text.index(t), text.index(t) + len(t), t, kind, label) for t, kind, label in subs]


def _verdicts(sentence: str, claims, evidence: list[str], article: str | None = None):
    """The rules on hand-made claims: first pass, then the pending ones with spaCy's claims of the evidence."""
    from fabscore.evidence import verdicts as V
    from fabscore.evidence.claims import key_tokens

    toks = [set(key_tokens(e)) for e in evidence]
    arts = set(key_tokens(article if article is not None else " ".join(evidence)))
    first = V.first_pass(sentence, V.digit_claims(sentence, claims), toks, arts)
    return [V.settle(sentence, p, evidence[p.evidence], extract([evidence[p.evidence]])[0], arts)
            if isinstance(p, V.Pending) else p for p in first]


def test_claim_verdicts_backed_absent_conflicting():
    from fabscore.evidence import verdicts as V

    ev = ["The river flooding could be the worst seen in over 20 years in portions of the Mississippi, NOAA said.",
          "Emergency crews in Davenport filled sandbags on Tuesday."]
    same = "The river flooding could be the worst seen in over 20 years in portions of the Mississippi, NOAA said."
    edited = same.replace("20", "50")
    got = _verdicts(edited, _claims(edited, ("over 50 years", "date", "DATE"), ("NOAA", "entity", "ORG")), ev)
    assert [(v.claim.text, v.verdict, v.evidence_value, v.at) for v in got] == [
        ("over 50 years", "conflicting", "over 20 years", 0), ("NOAA", "backed", None, None)]
    assert V.status(True, 0.9, got) == "contradicted"  # whatever the support
    assert [v.verdict for v in _verdicts(same, _claims(same, ("over 20 years", "date", "DATE")), ev)] == ["backed"]
    # a name the evidence articles hold anywhere is never absent; one they do not hold is
    moved = "Emergency crews in Dubuque filled sandbags on Tuesday."
    got = _verdicts(moved, _claims(moved, ("Dubuque", "entity", "GPE"), ("Tuesday", "date", "DATE")), ev,
                    article=" ".join(ev) + " Dubuque was spared.")
    assert [v.verdict for v in got] == ["conflicting", "backed"]  # the aligned sentence names Davenport instead
    got = _verdicts("Officials in Dubuque said little.", _claims("Officials in Dubuque said little.",
                                                                 ("Dubuque", "entity", "GPE")), ev)
    assert [v.verdict for v in got] == ["absent"]  # nothing aligned, and the articles do not have it
    # digit groups spaCy misses are claims too: a caption number changed conflicts
    caption = "4 / 18: Emergency crews in Davenport filled sandbags on Tuesday."
    got = _verdicts(caption.replace("4 / 18", "7 / 18"), [], ["4 / 18: " + ev[1]])
    assert [(v.claim.text, v.verdict) for v in got] == [("7", "conflicting"), ("18", "backed")]
    assert got[0].evidence_value.startswith("4")  # "4", or "4 / 18" when spaCy takes the caption number whole
    # a quotation is found when most of its words are (reported speech is trimmed), never conflicting
    q = 'NOAA said "the flooding could be the worst seen in years here".'
    assert [v.verdict for v in _verdicts(q, _claims(q, ("the flooding could be the worst seen in years here",
                                                           "quote", "QUOTE")), ev)] == ["backed"]


def test_sentence_status_rules():
    from fabscore.evidence import verdicts as V
    from fabscore.evidence.claims import Claim, key_tokens

    backed, absent = (V.ClaimVerdict(Claim(0, 3, "Foo", "entity", "ORG"), v) for v in ("backed", "absent"))
    assert V.status(False, None, []) == "no_evidence"
    assert V.status(True, 0.8, [backed]) == "supported"
    assert V.status(True, 0.8, [backed, absent]) == "unverified"  # a specific the evidence does not have
    assert V.status(True, 0.3, [backed]) == "unverified"
    assert V.status(True, 0.99, [backed], flip=True) == "contradicted"
    ev = "The mayor did not sign the city budget on Friday."
    flip = V.negation_flip("The mayor did sign the city budget on Friday.", [set(key_tokens(ev))], [ev])
    assert flip == 0 and V.negation_flip(ev, [set(key_tokens(ev))], [ev]) is None


# ---------------------------------------------------------------- scoring with evidence
def _statuses(rec: dict) -> dict:
    from fabscore.evidence import STATUSES

    return {k: sum(s["status"] == k for s in rec["sentences"]) for k in STATUSES}


@pytest.mark.slow
def test_seed_against_itself_is_supported_and_writing_score_unchanged(detector):
    text = SEED_HUMAN.read_text()
    plain = detector.score(text)[0]
    rec = detector.score(text, evidence=[str(SEED_HUMAN)])[0]
    assert (rec["score"], rec["label"]) == (plain["score"], plain["label"])
    assert plain["evidence_summary"] is None and all(s["status"] is None for s in plain["sentences"])
    assert [s["status"] for s in rec["sentences"]] == ["supported"] * len(rec["sentences"])
    summary = rec["evidence_summary"]
    assert summary["n_supported"] == summary["n_sentences_checked"] == len(rec["sentences"])
    assert summary["invented_specifics"] == [] and summary["reason"] is None
    assert all(s["evidence"][0]["similarity"] > 0.99 for s in rec["sentences"])
    assert all(c["verdict"] == "backed" for s in rec["sentences"] for c in s["claims"])


@pytest.mark.slow
def test_seed_002_marks_the_invented_specifics_and_none_of_the_names_seed_000_has(detector, seed_index):
    from fabscore.evidence.claims import key_tokens
    from fabscore.training.evidence.evaluate import NEVER_MARKED

    rec = detector.score(SEED_MACHINE.read_text(), evidence=seed_index)[0]
    marked = [(c, s) for s in rec["sentences"] for c in s["claims"] if c["verdict"] in ("absent", "conflicting")]
    for name, word in INVENTED.items():
        assert any(word.lower() in c["text"].lower() for c, _ in marked), name
    for name in NEVER_MARKED:
        wrong = [c["text"] for c, _ in marked
                 if c["kind"] != "quote" and re.search(rf"\b{re.escape(name)}\b", c["text"])]
        assert not wrong, (name, wrong)
    evidence_words = {t for x in seed_index.sentences for t in key_tokens(x.text)}  # the indexed (trimmed) article
    for c, s in marked:  # absent: its words are not all in the evidence article; and no sentence with one is supported
        assert c["verdict"] != "absent" or not set(key_tokens(c["text"])) <= evidence_words, c
        assert s["status"] in ("contradicted", "unverified")
    summary = rec["evidence_summary"]
    assert [(x["text"], x["verdict"]) for x in summary["invented_specifics"]] == [(c["text"], c["verdict"])
                                                                                 for c, _ in marked]
    assert summary["n_absent"] + summary["n_conflicting"] == len(marked)
    assert summary["n_contradicted"] + summary["n_unverified"] >= 15 and summary["n_no_evidence"] == 0
    eboe = next(s for s in rec["sentences"] if "Eboe-Osuji" in s["text"])
    assert eboe["status"] == "unverified" and eboe["support"] < 0.5
    assert {(c["text"], c["verdict"]) for c in eboe["claims"]} >= {("Chile Eboe-Osuji", "absent")}


@pytest.mark.slow
def test_unrelated_evidence_gives_no_evidence_only(detector):
    rec = detector.score(SEED_HUMAN.read_text(), evidence=unrelated_news(50))[0]
    assert _statuses(rec)["no_evidence"] == len(rec["sentences"]), _statuses(rec)
    assert all(s["support"] is None and all(c["verdict"] is None for c in s["claims"]) for s in rec["sentences"])
    assert rec["evidence_summary"]["invented_specifics"] == []


@pytest.fixture(scope="module")
def index_200(tmp_path_factory):
    """200 real news articles: every usnews_mar2023 human article (the Mississippi flood story among them),
    then llmfake human articles."""
    from fabscore.evidence import build_from_texts
    from fabscore.training.evidence.pairs import read

    rows = [r for r in read("usnews_mar2023_human.clean.jsonl", SHARED_DATA) if r["label"] == "human"]
    rows += [r for r in read("llmfake.clean.jsonl", SHARED_DATA) if r["label"] == "human"][:200 - len(rows)]
    assert len(rows) == 200 and any(FLOOD in r["text"] for r in rows)
    return build_from_texts([r["text"] for r in rows], [r["id"] for r in rows])


FLOOD = "flooding could be the worst seen in over 20 years"


@pytest.mark.slow
def test_a_short_claim_in_a_200_article_index(detector, index_200):
    """A 12-word claim: stated as the flood story says it, supported; with its number changed,
    contradicted (the number conflicting with the story's); with another river, not supported."""
    true = "NOAA says Mississippi flooding could be the worst in over 20 years."
    assert len(true.split()) == 12
    recs = detector.check([true, true.replace("20", "50"), true.replace("Mississippi", "Missouri River")],
                          evidence=index_200)
    assert [r["writing"] for r in recs] == [None] * 3  # too short for a writing score, and no fields saying so
    assert [r["claim"] for r in recs] == [true, true.replace("20", "50"), true.replace("Mississippi", "Missouri River")]
    (t,), (f,), (river,) = (r["sentences"] for r in recs)
    assert t["status"] == recs[0]["status"] == "supported" and "score" not in t and "flagged" not in t
    assert FLOOD.replace("seen ", "") in t["evidence"][0]["text"].replace("seen ", "")
    assert f["status"] in ("contradicted", "unverified") and f["support"] < t["support"]
    assert [(c["text"], c["verdict"], c["evidence_value"]) for c in f["claims"] if c["verdict"] != "backed"] == [
        ("over 50 years", "conflicting", "over 20 years")]
    assert river["status"] in ("contradicted", "unverified")
    assert any(c["verdict"] in ("absent", "conflicting") and "Missouri" in c["text"] for c in river["claims"])


@pytest.mark.slow
def test_an_indexed_sentence_with_a_number_changed_is_not_supported(detector, index_200):
    """The user's trial: the indexed flood story's "over 20 years" edited to "over 50 years"."""
    rows = [r for r in __import__("fabscore.training.evidence.pairs", fromlist=["read"]).read(
        "usnews_mar2023_human.clean.jsonl", SHARED_DATA) if FLOOD in r["text"]]
    sentence = next(s for s in re.split(r"(?<=\.) ", rows[0]["text"]) if FLOOD in s)
    rec = detector.score(rows[0]["text"].replace(sentence, sentence.replace("20 years", "50 years")),
                         evidence=index_200)[0]
    edited = next(s for s in rec["sentences"] if "50 years" in s["text"])
    assert edited["status"] == "contradicted", edited
    assert [(c["text"], c["verdict"]) for c in edited["claims"] if "50" in c["text"]] == [("over 50 years",
                                                                                         "conflicting")]
    ev = edited["evidence"][next(c["evidence_index"] for c in edited["claims"] if c["verdict"] == "conflicting")]
    assert "over 20 years" in ev["text"] and ev["id"] == rows[0]["id"]
    others = [s for s in rec["sentences"] if s is not edited]
    assert _statuses(rec)["supported"] >= 0.8 * len(others)  # the rest of the story is the indexed one


@pytest.mark.slow
def test_check_any_text_api(detector, seed_index):
    """det.check: one claim record per text; an empty claim is an error record, a short claim in another
    language is not checked (and says why), a non-string is an error record."""
    from fabscore.io.records import CLAIM_KEYS, CLAIM_SENTENCE_KEYS

    texts = ["The ICC has expressed concerns over threats coming from Russia.", "   ",
             "La Cour pénale internationale a émis un mandat d'arrêt contre Poutine.", None,
             "The ICC has expressed concerns over threats coming from Russia. Sergei Lavrov wrote to the court on "
             "March 14th."]
    recs = detector.check(texts, evidence=seed_index, ids=["a", "b", "c", "d", "e"])
    assert [tuple(r) for r in recs] == [CLAIM_KEYS] * 5 and [r["id"] for r in recs] == list("abcde")
    assert all(tuple(s) == CLAIM_SENTENCE_KEYS for r in recs for s in r["sentences"])
    ok, empty, french, none, two = recs
    assert ok["writing"] is None and ok["status"] == ok["sentences"][0]["status"] == "supported"
    assert ok["support"] == ok["sentences"][0]["support"] and ok["evidence_summary"]["n_sentences_checked"] == 1
    assert (empty["status"], empty["error"], empty["sentences"]) == (None, "empty claim: nothing to check", [])
    assert french["sentences"] == [] and french["evidence_summary"]["reason"].startswith("not checked: not English")
    assert french["status"] is None and french["evidence_summary"]["n_sentences_checked"] == 0
    assert none["status"] is None and "not a string" in none["error"]
    assert two["sentences"][0]["status"] == "supported" and len(two["sentences"]) == 2
    # Lavrov's letter is in no reference: the claim as a whole is not supported
    assert two["status"] in ("unverified", "contradicted")
    with pytest.raises(ValueError, match="check needs evidence"):
        detector.check("a claim", evidence=None)


@pytest.mark.slow
def test_long_non_english_article_not_checked(detector, seed_index):
    text = " ".join(["Die Regierung hat am Montag neue Maßnahmen gegen die Inflation beschlossen, "
                     "die nach Angaben des Ministeriums sofort in Kraft treten sollen."] * 8)
    rec = detector.score(text, evidence=seed_index)[0]
    assert rec["label"] == "abstain" and "not English" in rec["reason"]
    assert rec["evidence_summary"]["reason"] == f"not checked: {rec['reason']}" and rec["sentences"] == []


@pytest.mark.slow
def test_a_very_long_article_is_checked_a_block_at_a_time(detector, seed_index, monkeypatch):
    """Every sentence of a long text is checked, but never more than BLOCK at once: the search's
    (queries x indexed rows) products stay bounded whatever the text's length."""
    from fabscore.evidence import annotate as ann

    monkeypatch.setattr(ann, "BLOCK", 7)
    sizes = []
    search = seed_index.search
    monkeypatch.setattr(seed_index, "search", lambda q, k: sizes.append(len(q)) or search(q, k))
    article = " ".join(x.text for x in seed_index.sentences)  # the reference's sentences, its boilerplate left out
    text = "\n\n".join([article] * 3)
    n = len(__import__("fabscore.text.sentences", fromlist=["prepare"]).prepare(text).sentences)
    rec = detector.score(text, evidence=seed_index)[0]
    assert len(rec["sentences"]) == n == rec["evidence_summary"]["n_sentences_checked"] > 40
    assert max(sizes) <= 7 and sum(sizes) == n
    assert all(s["status"] == "supported" for s in rec["sentences"])


@pytest.mark.slow
def test_cli_score_with_evidence_csv_claims_out_and_resume(tmp_path, capsys):
    out, claims = tmp_path / "o.jsonl", tmp_path / "claims.csv"
    args = ["score", str(SEED_MACHINE), str(SEED_HUMAN), "--evidence", str(SEED_HUMAN), "--out", str(out),
            "--claims-out", str(claims)]
    assert cli.main(args) == 0
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 2 and all(r["evidence_summary"]["n_sentences_checked"] > 0 for r in recs)
    import csv

    rows = list(csv.DictReader(claims.open()))
    marked = [(r["id"], c["start"], c["text"], c["verdict"]) for r in recs for s in r["sentences"]
              for c in s["claims"] if c["verdict"] in ("absent", "conflicting")]
    assert [(r["id"], int(r["start"]), r["claim"], r["verdict"]) for r in rows] == marked and marked
    first = rows[0]
    assert first["path"] == str(SEED_MACHINE) and first["evidence_path"] == str(SEED_HUMAN)
    text = SEED_MACHINE.read_text()
    assert all(text[int(r["start"]):int(r["end"])] == r["claim"] for r in rows)
    assert all(text[int(r["sentence_start"]):int(r["sentence_end"])] == r["sentence_text"] for r in rows)
    assert cli.main([*args, "--resume"]) == 0  # nothing left to do: the same records, the same claim rows
    assert len(out.read_text().splitlines()) == 2 and list(csv.DictReader(claims.open())) == rows
    csv_out = tmp_path / "o.csv"
    assert cli.main(["score", str(SEED_MACHINE), "--evidence", str(SEED_HUMAN), "--out", str(csv_out)]) == 0
    row = next(csv.DictReader(csv_out.open()))
    summary = recs[0]["evidence_summary"]
    assert int(row["n_checked"]) == summary["n_sentences_checked"] and int(row["n_unverified"]) == summary[
        "n_unverified"]
    assert "Chile Eboe-Osuji" in row["absent_claims"].split(" | ") and row["conflicting_claims"] == ""
    capsys.readouterr()
    assert cli.main(["score", str(SEED_MACHINE), "--evidence", str(tmp_path / "missing-dir")]) == 2
    err = capsys.readouterr().err
    assert "no evidence" in err and "missing-dir" in err
    assert cli.main(["score", str(SEED_MACHINE), "--claims-out", str(tmp_path / "c.csv")]) == 2
    assert "give --evidence REF too" in capsys.readouterr().err


@pytest.mark.slow
def test_table_shows_what_to_look_at(tmp_path, capsys):
    """--format table with --evidence: the counts, then contradicted and unverified sentences with their
    absent and conflicting claims and the evidence to read; at most 3 no_evidence lines, the rest counted."""
    unrelated = tmp_path / "unrelated.txt"
    unrelated.write_text(unrelated_news(1)[0])
    assert cli.main(["score", str(SEED_MACHINE), str(unrelated), "--evidence", str(SEED_HUMAN),
                     "--format", "table", "--wide"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["label", "score", "flagged", "path"]
    assert lines[2].split()[0] == "fabricated" and lines[2].endswith(str(SEED_MACHINE))
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith("evidence:"))  # after why and drivers
    assert all(line.split()[0] in ("why:", "driver") for line in lines[3:first])
    m = re.fullmatch(r" +evidence: (\d+) sentences checked: (\d+) supported, (\d+) contradicted, (\d+) unverified, "
                     r"(\d+) no_evidence; min support (0\.\d+); (\d+) claims absent or conflicting", lines[first])
    assert m, lines[first]
    n, sup, con, unv, none = map(int, m.groups()[:5])
    assert n == sup + con + unv + none and unv >= 10
    second = next(i for i, line in enumerate(lines) if line.endswith(str(unrelated)))
    rows = [line.split() for line in lines[4:second] if line.split()[0] in ("contradicted", "unverified")]
    assert [r[0] for r in rows] == ["contradicted"] * con + ["unverified"] * unv  # supported ones are not listed
    supports = [float(r[1]) for r in rows[con:]]
    assert supports == sorted(supports) and min(supports) == float(m.group(6))
    eboe = next(i for i, line in enumerate(lines) if "Eboe-Osuji" in line and line.split()[0] == "unverified")
    assert lines[eboe + 1].split(":")[0].strip() == "absent" and "Chile Eboe-Osuji" in lines[eboe + 1]
    absent = [re.sub(r'"[^"]*"', "", line.split(":", 1)[1]) for line in lines[4:second]  # quotations aside
              if line.strip().startswith("absent:")]
    assert absent and not any(re.search(r"\b(Russia|Ukraine|ICC)\b", line) for line in absent)
    nearest = [line for line in lines[4:second] if line.strip().startswith("nearest (")]
    assert len(nearest) == con + unv and all(str(SEED_HUMAN) in line for line in nearest)
    rest = [line for line in lines[second + 1:] if line.split()[0] not in ("why:", "driver")]
    m = re.fullmatch(r" +evidence: \d+ sentences checked: 0 supported, (\d+) contradicted, (\d+) unverified, "
                     r"(\d+) no_evidence.*", rest[0])
    assert m, rest[0]
    doubted, n_none = int(m.group(1)) + int(m.group(2)), int(m.group(3))
    statuses = [line.split()[0] for line in rest[1:] if line.split()[0] in ("contradicted", "unverified",
                                                                            "no_evidence", "...")]
    assert n_none > 3 and statuses == ["contradicted"] * int(m.group(1)) + ["unverified"] * int(m.group(2)) + [
        "no_evidence"] * 3 + ["..."]
    assert rest[-1].strip() == f"... and {n_none - 3} more no_evidence sentences" and doubted <= 2


@pytest.mark.slow
def test_check_cli_table_jsonl_stdin(tmp_path, capsys, monkeypatch):
    import io

    ref = str(SEED_HUMAN)
    claims = ["The ICC has expressed concerns over threats coming from Russia.", ""]
    assert cli.main(["check", *claims, "--evidence", ref, "--format", "table"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("# evidence: 16 sentences of 1 article;") and lines[1].split() == ["status", "supp.",
                                                                                                 "claim"]
    assert lines[2].split()[0] == "supported" and lines[2].endswith(claims[0])
    assert lines[3].strip().startswith("nearest (") and ref in lines[3]
    assert lines[4].startswith("error") and "(empty claim: nothing to check)" in lines[4]
    assert "checked=1 not_checked=0 failed=1" in captured.err
    out, marked = tmp_path / "c.jsonl", tmp_path / "m.jsonl"
    monkeypatch.setattr("sys.stdin", io.StringIO("Sergei Lavrov sent the ICC a letter, the court said.\n\n"
                                                  "The court's president Chile Eboe-Osuji has expressed concerns "
                                                  "over threats coming from Russia.\n"))
    assert cli.main(["check", "-", "--evidence", ref, "--out", str(out), "--claims-out", str(marked)]) == 0
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["path"], r["id"]) for r in recs] == [("-", "-:1"), ("-", "-:3")]
    rows = [json.loads(x) for x in marked.read_text().splitlines()]
    assert {(r["id"], r["claim"], r["verdict"]) for r in rows} >= {("-:1", "Sergei Lavrov", "absent"),
                                                                   ("-:3", "Chile Eboe-Osuji", "absent")}
    assert cli.main(["check", "a claim", "--evidence", ref, "--out", str(out)]) == 2  # holds output already
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["check", "", "--evidence", ref, "--out", str(tmp_path / "e.jsonl")]) == 1  # all failed


@pytest.mark.slow
def test_evidence_reuses_the_article_scoring_prepared():
    """Detector.record hands the evidence check the Article the writing score was computed from:
    each text is prepared once (the fast model and the default model's consistency head); a text too
    short for the writing model is checked all the same."""
    from fabscore.detector import Detector
    from fabscore.evidence import resolve_evidence
    from fabscore.models import directory as md
    from fabscore.text.sentences import prepare

    prepared = []

    def counting(text):
        prepared.append(text)
        return prepare(text)

    det = Detector(md.load("fast"), preparer=counting)
    check = resolve_evidence([str(SEED_HUMAN)], md.load("default"))
    rec = det.score([SEED_HUMAN.read_text(), "The ICC has expressed concerns over threats coming from Russia."],
                    evidence=check)
    assert len(prepared) == 2
    assert rec[0]["evidence_summary"]["n_sentences_checked"] == len(rec[0]["sentences"]) > 10
    assert all(s["status"] == "supported" and s["score"] is not None for s in rec[0]["sentences"])
    assert rec[1]["label"] == "abstain" and rec[1]["evidence_summary"]["n_sentences_checked"] == 1
    [s] = rec[1]["sentences"]
    assert (s["score"], s["flagged"], s["status"]) == (None, False, "supported")


# ---------------------------------------------------------------- a consistency head trained here
@pytest.mark.slow
def test_small_consistency_head_trained_on_real_pairs(tmp_path):
    from fabscore.evidence.annotate import check_sentences
    from fabscore.evidence.checker import Checker, RelevanceCut, load_checker
    from fabscore.evidence.features import TOP_K
    from fabscore.training.evidence.pairs import build_split, read
    from fabscore.training.fit.heads import fit_head

    rows = [r for r in read("usnews_mar2023_human.clean.jsonl") if 150 <= len(r["text"].split()) <= 500][:8]
    outside = [r for r in read("iu_news.clean.jsonl") if r["label"] == "human"][:3]
    rng = np.random.default_rng(0)
    pool, pairs = build_split(rows, [], outside, rng, 3, 0, lambda m: None)
    kinds = {p.kind for p in pairs}
    assert {"original", "entity", "insert", "name_same"} <= kinds
    for p in (p for p in pairs if p.kind == "name_same"):  # the new name comes from the same article
        story = next(r["text"] for r in rows if r["id"] == p.story)
        assert p.text[p.span[0]:p.span[1]] in story
    checked = check_sentences([p.text for p in pairs], pool, TOP_K)
    y = np.array([p.label for p in pairs])
    assert 10 <= y.sum() < len(y)
    fit = fit_head(checked.X, y, np.array([p.story for p in pairs]), n_splits=3, fprs=())
    assert max(fit.cv_auroc.values()) > 0.8  # grouped-CV AUROC on these real pairs
    model = tmp_path / "model"
    model.mkdir()
    for f in Path(__import__("fabscore.models.directory", fromlist=["SHIPPED"]).SHIPPED / "default").iterdir():
        if f.name not in ("consistency_head.safetensors", "consistency.json"):
            (model / f.name).write_bytes(f.read_bytes())
    Checker(fit.head, RelevanceCut(0.2, 0.05, 16, 5000), TOP_K).save(model)
    write_manifest(model)
    again = load_checker(model)
    assert np.allclose(again.head.predict_proba(checked.X), fit.head.predict_proba(checked.X))
    assert again.relevance_cut(100) == pytest.approx(0.2 + 0.05 * np.log(100))


def test_abstractive_corruptions_change_one_claim_of_a_rewrite():
    """The corrupted rewrites training adds: each changes a restated sentence at its span, label 0."""
    from fabscore.evidence import build_from_texts
    from fabscore.training.evidence.pairs import Pair, abstractive_corruptions

    source = SEED_HUMAN.read_text()
    pool = build_from_texts([source], ["icc"])
    restated = [Pair("The International Criminal Court said on Wednesday that Russia threatened it after the "
                     "warrant for Vladimir Putin.", 1, "restated", "icc")]
    got = abstractive_corruptions(restated, pool, np.random.default_rng(0))
    assert got and all(p.label == 0 and p.kind.startswith("abs_") and p.story == "icc" for p in got)
    for p in got:
        assert p.text != restated[0].text
        if p.kind in ("abs_entity", "abs_name_same"):  # a name in place of one, from elsewhere / the evidence
            assert p.text[p.span[0]:p.span[1]] not in restated[0].text


# ---------------------------------------------------------------- fabscore evaluate --evidence
@pytest.mark.slow
def test_cli_evaluate_evidence_on_held_out_stories_and_human_labels(shared_data, feature_cache, tmp_path, capsys):
    """The shipped default model's consistency head on 8 held-out stories, 6 QAGS summaries and 12
    Climate-FEVER claims (real pairs, real models)."""
    from fabscore.training.evidence.evaluate import TYPE_NAMES

    shared_file("evidence/qags_cnndm.jsonl")
    out = tmp_path / "ev"
    code = cli.main(["evaluate", "--evidence", "--evidence-stories", "8", "--evidence-rewrites", "8",
                     "--evidence-human", "12", "--cache", str(feature_cache.root), "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    rep = json.loads((out / "metrics.json").read_text())["evidence"]
    assert rep["settings"]["n_stories"] == 8 and rep["settings"]["pool_sentences"] > 50
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    for kind in ("entity", "negation", "insert", "name_same"):  # types every sample of 8 stories has
        assert rep["corruption_auroc"][kind]["n"] > 0
    for kind, m in rep["corruption_auroc"].items():
        assert m["auroc"] is None or 0.0 <= m["auroc"] <= 1.0
        assert f"| {m['auroc']:.3f} |" in rows[TYPE_NAMES[kind]]  # the table shows the JSON's number
        v = rep["verdicts"][kind]
        assert abs(sum(v["status"].values()) - 1) < 1e-3
    assert rep["corruption_auroc"]["entity"]["auroc"] > 0.8 and rep["corruption_auroc"]["insert"]["auroc"] > 0.8
    assert rep["verdicts"]["original"]["status"]["supported"] > 0.8
    nat = rep["natural_n"]
    assert nat["inserted"] > 0 and nat["restated"] > 0 and 0.5 < rep["natural_auroc"] <= 1.0
    c = rep["claim_level"]
    assert c["n_changed_claims"] > 0 and c["n_negative_claims"] > 0 and 0.5 < c["recall"] <= 1.0
    assert rep["claim_level_with_restated"]["n_negative_claims"] >= c["n_negative_claims"]
    q = rep["qags"]
    assert q["n_summaries"] == 12 and q["n_sentences"] >= 12 and 0 < q["n_not_supported"] < q["n_sentences"]
    assert f"| {q['sentence_auroc']:.3f} | {q['naive']['sentence_auroc']:.3f} |" in rows["sentence AUROC"]
    assert -1 <= q["summary_spearman"] <= 1 and "summary Spearman" in rows
    cf = rep["climate_fever"]
    assert cf["n_claims"] == 12 and cf["n_pairs"] >= 12 * 4 and cf["by_label"]["SUPPORTS"] > 0
    assert cf["sr_auroc"] is None or f"| {cf['sr_auroc']:.3f} |" in rows["SUPPORTS vs REFUTES AUROC"]
    assert 0 <= cf["macro_f1_statuses"] <= 1
    assert rep["seeds"]["000_vs_000"]["met"] and rep["seeds"]["002_vs_000"]["met"] and "000 vs 000" in rows
    # every human-labelled set: the shipped head on at most 12 pairs a set (whole groups), beside the
    # leave-one-dataset-out figures stored when it was trained; QAGS and Climate-FEVER never fitted on
    from fabscore.training.evidence.human_pairs import EVAL_ONLY, REPORTED

    hs = rep["human_sets"]
    assert list(hs["sets"]) == list(REPORTED) and all(v["n"] >= 12 for v in hs["sets"].values())
    for d, v in hs["sets"].items():  # a sample of 12 can hold one class only: then there is nothing to rank
        one_class = v["n_supported"] in (0, v["n"])
        assert (v["auroc"] is None) == one_class and (one_class or 0 <= v["auroc"] <= 1 and 0 <= v["bacc"] <= 1)
        shown = "- | -" if one_class else f"{v['auroc']:.3f} | {v['bacc']:.3f}"
        assert f"| {d} | {v['n']} | {v['n_supported']} | {shown} | no |" in rows[d]
    assert sum(v["auroc"] is not None for v in hs["sets"].values()) >= 6
    # the shipped head was fitted on corruption pairs only: every human-labelled figure is held out
    assert not any(v["fitted_on"] for v in hs["sets"].values()) and hs["leave_one_dataset_out"] is None
    n_ranked = sum(v["auroc"] is not None for v in hs["sets"].values())
    assert f"every figure is held out; mean over {n_ranked} sets" in text
    assert set(EVAL_ONLY) <= set(hs["sets"])


def test_cli_evaluate_needs_data_or_evidence(capsys):
    assert cli.main(["evaluate"]) == 2
    assert "evaluate needs --data SPEC..., --evidence, or both" in capsys.readouterr().err
    assert cli.main(["evaluate", "--evidence", "--attacks", "fast"]) == 2
    assert "--attacks attacks the articles of --data" in capsys.readouterr().err


def test_claim_level_and_changed_claim_verdicts():
    """The held-out claim metrics on hand-made checks: a changed claim counts as found when marked
    absent or conflicting; not extracted and no_evidence count as missed; false marks on originals."""
    from fabscore.evidence.annotate import SentenceCheck
    from fabscore.evidence.claims import Claim
    from fabscore.evidence.verdicts import ClaimVerdict
    from fabscore.training.evidence.metrics import changed_claim, claim_level
    from fabscore.training.evidence.pairs import Pair

    def checked(status, *verdicts):
        return SentenceCheck(0.5, status, [ClaimVerdict(Claim(a, b, "x" * (b - a), "entity", "ORG"), v)
                                           for a, b, v in verdicts], [])

    pairs = [Pair("o1", 1, "original", "a"), Pair("o2", 1, "original", "b"),
             Pair("e1", 0, "entity", "a", (0, 4)), Pair("e2", 0, "name_same", "b", (10, 14)),
             Pair("n1", 0, "number", "a", (20, 22)), Pair("d1", 0, "date", "b", (0, 4))]
    results = [checked("supported", (0, 4, "backed")), checked("unverified", (0, 4, "absent"), (6, 9, "backed")),
               checked("contradicted", (0, 4, "conflicting")), checked("unverified", (8, 12, "backed"),
                                                                      (11, 16, "absent")),
               checked("supported", (0, 4, "backed")), checked("no_evidence", (0, 4, None))]
    assert [changed_claim(p, r) for p, r in zip(pairs[2:], results[2:])] == ["conflicting", "absent",
                                                                             "not_extracted", "no_evidence"]
    got = claim_level(pairs, results)
    assert (got["recall"], got["precision"], got["false_marks"]) == (0.5, 2 / 3, 1)
    assert (got["n_changed_claims"], got["n_not_extracted"], got["n_negative_claims"]) == (4, 1, 3)
