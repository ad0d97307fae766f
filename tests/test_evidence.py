"""Evidence mode: the index round trip and its refusals, claims, the seeds' ranking,
no_evidence on unrelated news, the CLI, and a consistency head trained here on real pairs."""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SEED_HUMAN, SEED_MACHINE, SHARED_DATA

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
        return {"format_version": "format version 3", "normalization_version": "normalization_version '0-other'",
                "encoder": "embedded by another encoder"}[next(iter(changes))]
    return tamper


TAMPERINGS = {"changed-file": _tamper_change, "unknown-file": _tamper_unknown, "pickle": _tamper_pickle,
              "format-version": _rewrite_config(format_version=3),
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
    (d / "sentences.json").write_text(json.dumps([s.as_dict() for s in index.sentences]))
    cfg = json.loads((d / "index.json").read_text())
    (d / "index.json").write_text(json.dumps({**cfg, "format_version": 1}))
    write_manifest(d)
    return d


def test_version_1_index_refused_with_exit_2(seed_index, tmp_path, capsys):
    d = _save_version_1(seed_index, tmp_path / "v1")
    message = r"evidence index format version 1; this fabscore reads version 2 \(rebuild it with fabscore index\)"
    with pytest.raises(EvidenceError, match=message):
        load(d)
    assert cli.main(["score", str(SEED_MACHINE), "--evidence", str(d)]) == 2
    assert re.search(message, capsys.readouterr().err)


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
        part = t["articles"] if column in ("path", "id") else t["sentences"]
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
    # the three lowest-support sentences all carry invented specifics
    assert all(any(w in s["text"] for w in INVENTED) for s in lowest), [s["text"][:60] for s in lowest]
    assert rec["evidence_summary"]["n_unsupported"] >= 3
    eboe = next(s for s in rec["sentences"] if "Eboe-Osuji" in s["text"])
    assert any(c["text"] == "Chile Eboe-Osuji" and c["supported"] is False and c["found"] is False
               for c in eboe["claims"])
    # the claim rule: supported only if found; found but not supported only in a doubted sentence
    claim_cut = __import__("fabscore.evidence.checker", fromlist=["load_checker"]).load_checker().claim_support_cut
    claims = [(c, s) for s in rec["sentences"] if s["support"] is not None for c in s["claims"]]
    assert any(c["found"] and c["supported"] for c, _ in claims)
    for c, s in claims:
        assert not c["supported"] or c["found"]
        assert not (c["found"] and not c["supported"]) or s["support"] <= claim_cut, (c, s["support"])


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


@pytest.mark.slow
def test_table_shows_evidence_counts_and_unbacked_sentences(capsys):
    """--format table with --evidence: the counts, then every unsupported sentence (lowest support
    first) and every no_evidence one, with the claims not found and the nearest source."""
    import re

    assert cli.main(["score", str(SEED_MACHINE), "--evidence", str(SEED_HUMAN), "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["label", "score", "flagged", "path"]
    assert lines[1].split()[0] == "fabricated" and lines[1].endswith(str(SEED_MACHINE))
    m = re.fullmatch(r" +evidence: (\d+) sentences checked, (\d+) supported, (\d+) unsupported, (\d+) no_evidence, "
                     r"min support (0\.\d+)", lines[2])
    assert m, lines[2]
    n, sup, uns, none = map(int, m.groups()[:4])
    assert n == sup + uns + none and uns >= 3 and n >= 15
    rows = [line.split() for line in lines[3:] if line.split()[0] in ("supported", "unsupported", "no_evidence")]
    assert [r[0] for r in rows] == ["unsupported"] * uns + ["no_evidence"] * none
    supports = [float(r[1]) for r in rows[:uns]]
    assert supports == sorted(supports) and supports[0] == float(m.group(5))
    assert all(r[1] == "-" for r in rows[uns:])
    eboe = next(i for i, line in enumerate(lines) if "Eboe-Osuji" in line and line.split()[0] == "unsupported")
    assert "not found:" in lines[eboe + 1] and "Chile Eboe-Osuji" in lines[eboe + 1]
    nearest = [line for line in lines if line.strip().startswith("nearest (")]
    assert len(nearest) == uns + none and all(str(SEED_HUMAN) in line for line in nearest)


@pytest.mark.slow
def test_evidence_reuses_the_article_scoring_prepared():
    """Detector.record hands the evidence check the Article the writing score was computed from:
    each text is prepared once (the fast model and the default model's consistency head)."""
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
    rec = det.score([SEED_HUMAN.read_text(), "Too short."], evidence=check)
    assert len(prepared) == 2
    assert rec[0]["evidence_summary"]["n_sentences_checked"] == len(rec[0]["sentences"]) > 10
    assert all(s["status"] == "supported" for s in rec[0]["sentences"])
    assert rec[1]["label"] == "abstain" and rec[1]["evidence_summary"]["n_sentences_checked"] == 0


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
    Checker(fit.head, RelevanceCut(0.2, 0.05, 16, 5000), TOP_K, claim_support_cut=0.7).save(model)
    write_manifest(model)
    again = load_checker(model)
    assert np.allclose(again.head.predict_proba(checked.X), fit.head.predict_proba(checked.X))
    assert again.claim_support_cut == 0.7 and again.relevance_cut(100) == pytest.approx(0.2 + 0.05 * np.log(100))


# ---------------------------------------------------------------- fabscore evaluate --evidence
@pytest.mark.slow
def test_cli_evaluate_evidence_on_held_out_stories(shared_data, feature_cache, tmp_path, capsys):
    """The shipped default model's consistency head on 8 held-out stories (real pairs, real models)."""
    from fabscore.training.evidence.evaluate import TYPE_NAMES

    out = tmp_path / "ev"
    code = cli.main(["evaluate", "--evidence", "--evidence-stories", "8", "--evidence-rewrites", "8",
                     "--cache", str(feature_cache.root), "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    rep = json.loads((out / "metrics.json").read_text())["evidence"]
    assert rep["settings"]["n_stories"] == 8 and rep["settings"]["pool_sentences"] > 50
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    for kind in ("entity", "negation", "insert"):  # types every sample of 8 stories has
        assert rep["corruption_auroc"][kind]["n"] > 0
    for kind, m in rep["corruption_auroc"].items():
        assert 0.0 <= m["share_unsupported"] <= 1.0
        assert m["auroc"] is None or 0.0 <= m["auroc"] <= 1.0
        assert f"| {m['auroc']:.3f} |" in rows[TYPE_NAMES[kind]]  # the table shows the JSON's number
    assert rep["corruption_auroc"]["entity"]["auroc"] > 0.8 and rep["corruption_auroc"]["insert"]["auroc"] > 0.8
    nat = rep["natural_n"]
    assert nat["inserted"] > 0 and nat["restated"] > 0 and 0.5 < rep["natural_auroc"] <= 1.0
    natural_row = rows[f"natural: inserted ({nat['inserted']}) vs restated ({nat['restated']})"]
    assert f"| {rep['natural_auroc']:.3f} |" in natural_row
    c = rep["claim_level"]
    assert c["n_corrupted_claims"] > 0 and c["n_negative_claims"] > 0
    assert c["recall_at_precision"]["precision"] is None or c["recall_at_precision"]["precision"] >= 0.9
    assert 0.0 <= c["recall"] <= 1.0 and (c["precision"] is None or 0.0 <= c["precision"] <= 1.0)
    assert rep["claim_level_with_restated"]["n_negative_claims"] >= c["n_negative_claims"]
    for name in ("as shipped (`supported: false`)", "words not in the evidence (`found: false`)",
                 "best recall at precision >= 0.9", "best F1"):
        assert name in rows
    assert rep["seeds"]["000_vs_000"]["met"] and "000 vs 000" in rows


def test_cli_evaluate_needs_data_or_evidence(capsys):
    assert cli.main(["evaluate"]) == 2
    assert "evaluate needs --data SPEC..., --evidence, or both" in capsys.readouterr().err
    assert cli.main(["evaluate", "--evidence", "--attacks", "fast"]) == 2
    assert "--attacks attacks the articles of --data" in capsys.readouterr().err


def test_claim_scores_rank_missing_claims_then_doubted_sentences():
    """claim_scores on hand-made checks: the shipped rule, recall at precision and best F1."""
    from types import SimpleNamespace

    from fabscore.evidence.annotate import claim_supported
    from fabscore.evidence.claims import Claim
    from fabscore.training.evidence.metrics import claim_scores
    from fabscore.training.evidence.pairs import Pair

    c = Claim(0, 4, "Paris", "entity", "GPE")
    pairs = [Pair("o1", 1, "original", "a"), Pair("o2", 1, "original", "b"),
             Pair("e1", 0, "entity", "a", (0, 4)), Pair("e2", 0, "entity", "b", (0, 4)),
             Pair("n1", 0, "number", "a", (10, 12)),  # its changed span is not a claim: never recalled
             Pair("r1", 1, "restated", "b")]
    checked = SimpleNamespace(claims=[[c]] * 6,
                              supported=[[True], [False], [False], [True], [True], [True]],
                              in_best=[[True], [False], [False], [False], [True], [False]])
    support = np.array([0.9, 0.95, 0.1, 0.2, 0.3, 0.6])
    got = claim_scores(pairs, checked, support, claim_cut=0.0)  # flagged only when not found
    assert (got["recall"], got["precision"], got["n_corrupted_claims"], got["n_not_extracted"]) == (1 / 3, 0.5, 3, 1)
    assert got["not_found_only"]["recall"] == 1 / 3
    # claim cut 0.25: e2 (found, not in the best sentence, support 0.2) is flagged too; o1 (in the best) never is
    cut = claim_scores(pairs, checked, support, claim_cut=0.25)
    assert (cut["recall"], cut["precision"], cut["false_flags"]) == (2 / 3, 2 / 3, 1)
    flags = [not claim_supported(ok[0], b[0], s, 0.25) for ok, b, s in zip(checked.supported, checked.in_best, support)]
    assert flags == [False, True, True, True, False, False]  # the records' rule is the one scored
    # restated rewrites' claims as negatives: r1 (found elsewhere, support 0.6) is a false flag at cut 0.7
    hard = claim_scores(pairs, checked, support, claim_cut=0.7, restated=True)
    assert (hard["recall"], hard["false_flags"], hard["n_negative_claims"]) == (2 / 3, 2, 3)
    # ranked by lost + off_best * doubt: e1 and o2 (1), e2 (0.8), the rest 0: no threshold reaches precision 0.9
    assert got["recall_at_precision"] == {"threshold": None, "recall": 0.0, "precision": None}
    best = got["best_f1"]
    assert (best["recall"], best["precision"], best["threshold"]) == (2 / 3, pytest.approx(2 / 3), pytest.approx(0.8))
