"""Evidence mode's targets, measured: the seeds, speed, memory.

    .venv/bin/python benchmarks/evidence_targets.py [--pool 300] [--articles 8] [--out benchmarks/evidence_targets.json]
    .venv/bin/python benchmarks/evidence_targets.py --quick --out /tmp/evidence_targets.json   # checks that it runs

- seeds: seed 002 scored with seed 000 as evidence (are the three lowest-support sentences
  ones with invented specifics?), seed 000 against itself (all supported?), seed 000
  against 50 unrelated usnews articles (no_evidence, not unsupported?);
- indexing throughput (split + MiniLM) against MiniLM's bare passes over the same
  sentences, and spaCy claim extraction over them (nlp.pipe, NER only);
- scoring time with and without evidence, and where the evidence time goes, with a
  real pool of --pool articles; the retrieval part for a 10,000-article pool is
  measured on a synthetic index of 10,000 x --big-per-article sentences (25, full-length
  news; the llmfake pool's articles are shorter) with sentence records of news length
  (exact or FAISS, as the index would choose) and substituted: an extrapolation,
  said so in the JSON;
- peak RSS of the process holding the detector and that 10,000-article-sized index;
- with --real-pool N (10,000 for the issue's target): a real pool of N articles from
  ../shared/data (every human news article first, then machine news, then other prose),
  indexed by `fabscore index` in a child process (timed; its peak RSS read from /proc),
  loaded, and scoring timed with and without it as evidence: measured, not extrapolated.
  The pool is written under --workdir (never into the repository) and reused when there.
Numbers are printed and written as JSON; nothing is asserted.

`--quick`: 2 articles scored, a pool of 10, a synthetic "10,000-article" index of 2 sentences
per article, the seed checks against 5 unrelated articles instead of 50.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import common
import numpy as np
from common import REPO, SHARED, GiB, peak_rss


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (SHARED / name).open()]


def indexing(texts: list[str]) -> dict:
    import torch

    from fabscore.evidence.claims import extract, load_nlp
    from fabscore.evidence.index import build_from_texts, sentences_of
    from fabscore.features.embed import encode_texts
    from fabscore.models.backbones import load_minilm
    from fabscore.text.normalize import normalize

    tok, model = load_minilm(torch.float32)
    encode_texts(["warm up"], tok, model)
    load_nlp()
    t = time.perf_counter()
    index = build_from_texts(texts)
    t_index = time.perf_counter() - t
    sents = [normalize(s.text) for s in index.sentences]
    t = time.perf_counter()
    encode_texts(sents, tok, model)
    t_bare = time.perf_counter() - t
    t = time.perf_counter()
    extract([s.text for s in index.sentences])
    t_claims = time.perf_counter() - t
    t = time.perf_counter()
    for x in texts:
        sentences_of("", "", x)
    t_split = time.perf_counter() - t
    n = len(index)
    return {"articles": len(texts), "sentences": n, "index_s": round(t_index, 2), "bare_minilm_s": round(t_bare, 2),
            "claims_spacy_s": round(t_claims, 2), "split_s": round(t_split, 2),
            "index_sentences_per_s": round(n / t_index, 1), "bare_sentences_per_s": round(n / t_bare, 1),
            "index_over_bare": round(t_bare / t_index, 3),
            "index_with_claims_over_bare": round(t_bare / (t_index + t_claims), 3),
            "note": "fabscore index does not extract claims (they are extracted from the checked article at "
                    "scoring time); index_with_claims_over_bare is what it would be if it did"}, index


def synthetic_index(n: int, n_articles: int = 10_000, block: int = 16_384):
    """An index of n random unit vectors and news-length sentence texts from n_articles
    articles, held as a loaded index holds them (float16 vectors, a SentenceTable), built
    without an intermediate that would count in the peak (a float32 array of all the
    vectors, a list of sentence records)."""
    from fabscore.evidence.index import EvidenceIndex
    from fabscore.evidence.table import SentenceTable

    rng = np.random.default_rng(0)
    v = np.empty((n, 384), np.float16)
    for b in range(0, n, block):
        x = rng.standard_normal((min(block, n - b), 384), dtype=np.float32)
        v[b:b + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    filler = "x" * 120  # sentence texts of a news sentence's length: they are part of the memory
    texts = [f"{i:>9} {filler}" for i in range(n)]
    article = np.arange(n, dtype=np.int64) * n_articles // n
    table = SentenceTable(["synthetic.jsonl"] * n_articles, [str(a) for a in range(n_articles)], article,
                          np.zeros(n), np.full(n, 130), texts)
    return EvidenceIndex(table, v)


def scoring(det, texts: list[str], pool_index, pool_articles: int, big_per_article: float | None = None,
            synthetic: bool = True) -> dict:
    from fabscore.evidence import annotate as ann
    from fabscore.evidence import resolve_evidence

    check = resolve_evidence(pool_index, det.model)
    det.score(texts[:1])
    det.score(texts[:1], evidence=check)
    assert det.cache_size == 0, "the detector's memo would make the second run a cache hit"
    t = time.perf_counter()
    plain = det.score(texts)
    t_plain = time.perf_counter() - t
    parts = {"encode": 0.0, "search": 0.0, "claims": 0.0}
    real = (ann.encode, ann.extract, pool_index.search)

    def timed(name, fn):
        def run(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                parts[name] += time.perf_counter() - t0
        return run

    ann.encode, ann.extract = timed("encode", real[0]), timed("claims", real[1])
    pool_index.search = timed("search", real[2])
    t = time.perf_counter()
    with_ev = det.score(texts, evidence=check)
    t_ev = time.perf_counter() - t
    ann.encode, ann.extract = real[0], real[1]
    del pool_index.search
    assert [r["score"] for r in plain] == [r["score"] for r in with_ev]
    n_sent = sum(len(r["sentences"]) for r in with_ev)
    measured = {"articles": len(texts), "sentences": n_sent, "pool_articles": pool_articles,
                "pool_sentences": len(pool_index), "without_evidence_s": round(t_plain, 2),
                "with_evidence_s": round(t_ev, 2), "ratio": round(t_ev / t_plain, 3),
                "evidence_parts_s": {k: round(v, 2) for k, v in parts.items()},
                "evidence_other_s": round(t_ev - t_plain - sum(parts.values()), 2)}
    if not synthetic:
        return measured
    # the retrieval of a 10,000-article pool: a synthetic index of that many sentences
    per_article = big_per_article or len(pool_index) / pool_articles
    n_big = int(10_000 * per_article)
    big = synthetic_index(n_big)
    q = pool_index.vectors[:n_sent]
    big.search(q[:5], 5)  # builds FAISS if the size calls for it
    t = time.perf_counter()
    big.search(q, 5)
    t_big_search = (time.perf_counter() - t)
    other = t_ev - t_plain - parts["search"]
    t_ev_10k = t_plain + other + t_big_search
    rss = peak_rss()
    return {**measured, "pool_10k_sentences_per_article": round(per_article, 1), "pool_10k_articles_sentences": n_big,
            "pool_10k_search_s": round(t_big_search, 3),
            "pool_10k_search_backend": "faiss" if big._faiss is not None else "exact",
            "ratio_10k_extrapolated": round(t_ev_10k / t_plain, 3),
            "peak_rss_gib_with_10k_index": round(rss / GiB, 3),
            "note": "ratio_10k_extrapolated = (plain + evidence time without search + search time on a "
                    "synthetic index the size of a 10,000-article pool) / plain; the real pool was smaller"}


def real_pool_index(n: int, workdir: Path) -> dict:
    """A real pool of n articles, indexed by `fabscore index` in a child process (timed, peak RSS from
    /proc); reused when workdir already holds it. Returns where it is and what it took."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"index-{n}"
    info_file = workdir / f"index-{n}.build.json"
    if (out / "index.json").is_file() and info_file.is_file():
        return json.loads(info_file.read_text())
    order = (("human", ("llmfake", "politifact_pp", "aiclf_news", "iu_news", "usnews_mar2023_human")),
             ("machine", ("llmfake", "politifact_pp", "aiclf_news", "iu_news")),
             (None, ("iu_wiki_en", "outfox_essays")))
    chosen: list[dict] = []
    for label, names in order:
        for name in names:
            chosen += [r for r in rows(f"{name}.clean.jsonl") if label is None or r["label"] == label]
    chosen = chosen[:n]
    src = workdir / f"pool-{n}.jsonl"
    with src.open("w") as f:
        for r in chosen:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
    cmd = [sys.executable, "-m", "fabscore", "index", str(src), "--out", str(out)]
    t = time.perf_counter()
    child = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, peak_rss(child.pid))
        time.sleep(0.5)
    seconds = time.perf_counter() - t
    err = child.stderr.read()
    if child.returncode != 0:
        raise SystemExit(f"fabscore index failed ({child.returncode}): {err}")
    config = json.loads((out / "index.json").read_text())
    info = {"dir": str(out), "articles": len(chosen), "sentences": config["n_sentences"],
            "words": sum(len(r["text"].split()) for r in chosen),
            "by_label": {str(k): sum(r["label"] == k for r in chosen) for k in ("human", "machine")},
            "index_s": round(seconds, 1), "sentences_per_s": round(config["n_sentences"] / seconds, 1),
            "index_peak_rss_gib": round(peak / GiB, 3), "ivf_stored": bool(config.get("ivf")),
            "command": "fabscore index pool.jsonl --out DIR", "stderr_tail": err.strip().splitlines()[-1:]}
    info_file.write_text(json.dumps(info, indent=2) + "\n")
    return info


def real_pool_scoring(det, texts: list[str], info: dict) -> dict:
    """Scoring with and without a real pool loaded from disk; peak RSS of this process (VmHWM)."""
    from fabscore.evidence import load

    t = time.perf_counter()
    index = load(info["dir"])
    t_load = time.perf_counter() - t
    res = scoring(det, texts, index, info["articles"], big_per_article=None, synthetic=False)
    res.update(pool_load_s=round(t_load, 2), pool_articles=info["articles"],
               peak_rss_gib=round(peak_rss() / GiB, 3))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=None, help="articles in the real pool (default 300; --quick 10)")
    ap.add_argument("--articles", type=int, default=None, help="articles scored (default 8; --quick 2)")
    ap.add_argument("--big-per-article", type=float, default=None,
                    help="sentences per article of the synthetic 10,000-article pool (full-length news: ~25, the "
                         "default; --quick 2; 0 = the real pool's mean)")
    ap.add_argument("--quick", action="store_true", help="a few articles, a small pool: checks that it runs")
    ap.add_argument("--real-pool", type=int, default=0, metavar="N",
                    help="also index a real pool of N articles from ../shared/data (10000: the issue's target) and "
                         "score with it, measured")
    ap.add_argument("--workdir", default="/tmp/fabscore-evidence-pool", help="where the real pool and its index go")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: seeds, indexing, scoring")
    ap.add_argument("--out", default=str(common.BENCHMARKS / "evidence_targets.json"))
    args = ap.parse_args(argv)
    args.pool = args.pool or (10 if args.quick else 300)
    args.articles = args.articles or (2 if args.quick else 8)
    if args.big_per_article is None:
        args.big_per_article = 2.0 if args.quick else 25.0
    skip = set(filter(None, args.skip.split(",")))
    from fabscore import load_detector
    from fabscore.training.evidence.evaluate import seed_checks

    def say(m):
        print(m, file=sys.stderr, flush=True)

    det = load_detector(cache_size=0)  # no memo of scored texts: the with-evidence run must score again
    out_path = Path(args.out)
    res = json.loads(out_path.read_text()) if skip and out_path.is_file() else {}  # skipped sections are kept
    res["load_average_start"] = os.getloadavg()
    if "seeds" not in skip:
        # the same checks as `fabscore evaluate --evidence`
        res["seeds"] = seed_checks(det, REPO / "seeds", SHARED, n_unrelated=5 if args.quick else 50)
        say(json.dumps(res["seeds"], indent=1))
    articles = [r["text"] for r in rows("llmfake.clean.jsonl") if r["label"] == "machine"
                and 150 <= len(r["text"].split()) <= 600][:args.articles]
    if not {"indexing", "scoring"} <= skip:
        pool = [r["text"] for r in rows("llmfake.clean.jsonl") if r["label"] == "human"][:args.pool]
        res["indexing"], index = indexing(pool)
        say(json.dumps(res["indexing"], indent=1))
        if "scoring" not in skip:
            res["scoring"] = scoring(det, articles, index, args.pool, args.big_per_article)
            say(json.dumps(res["scoring"], indent=1))
    if args.real_pool:
        info = real_pool_index(args.real_pool, Path(args.workdir))
        say(json.dumps(info, indent=1))
        res["real_pool"] = {"index": info, "scoring": real_pool_scoring(det, articles, info)}
        say(json.dumps(res["real_pool"]["scoring"], indent=1))
    res["load_average_end"] = os.getloadavg()
    res["targets"] = {"index_over_bare": 0.5, "ratio_10k": 2.0, "peak_rss_gib": 2.0}
    res["quick"] = args.quick
    common.write_json(out_path, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
