"""Evidence retrieval: exact matrix product vs FAISS, and where the crossover lies.

    .venv/bin/python benchmarks/evidence_retrieval.py [--sizes 10000,...] [--out benchmarks/evidence_retrieval.json]
    .venv/bin/python benchmarks/evidence_retrieval.py --quick --out /tmp/retrieval.json   # checks that it runs

Synthetic unit vectors shaped like sentence embeddings (clusters of topics plus
noise, 384 dimensions), held as float16 like the index's; an "article" is 30
query sentences near indexed ones, top-5 each. For each index size: milliseconds per article of exact search
(fabscore.evidence.search.exact_search) and of the FAISS IVF index the evidence
index switches to (build_faiss), FAISS's recall@5 against exact, and its build
time. Prints a table and writes JSON. Targets are reported, never asserted.

`load` (sizes of --load-sizes): an index directory of that many synthetic sentences
(texts of about 130 characters) saved with and without its IVF structure, each then
opened by `fabscore.evidence.load` (manifest hashes, JSON, safetensors, checks) and
searched once, in a fresh child process: the time from load to the first result, and
that child's peak RSS. `--load-only` measures only that and keeps the JSON's other keys.

`--quick`: one index of 10,000 sentences, 3 articles, and the load timing at that size.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np
from common import peak_rss

from fabscore.evidence.search import EXACT_MAX_SENTENCES, build_faiss, exact_search

DIM, K, PER_ARTICLE = 384, 5, 30
TARGET_MS_PER_ARTICLE_AT_1M = 50.0
MIN_RECALL = 0.95  # FAISS counts as a replacement for exact search only at this recall@5 or more


def synthetic(n: int, rng, n_topics: int = 4000) -> np.ndarray:
    centers = rng.standard_normal((n_topics, DIM)).astype(np.float32)
    out = np.empty((n, DIM), np.float32)
    for b in range(0, n, 100_000):
        m = min(100_000, n - b)
        v = centers[rng.integers(n_topics, size=m)] + 0.9 * rng.standard_normal((m, DIM)).astype(np.float32)
        out[b:b + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def queries(vectors: np.ndarray, n_articles: int, rng) -> np.ndarray:
    q = vectors[rng.integers(len(vectors), size=n_articles * PER_ARTICLE)]
    q = q + 0.05 * rng.standard_normal(q.shape).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def per_article_ms(search, q: np.ndarray, n_articles: int) -> float:
    search(q[:PER_ARTICLE])  # warm up
    t = time.perf_counter()
    for a in range(n_articles):
        search(q[a * PER_ARTICLE:(a + 1) * PER_ARTICLE])
    return 1000 * (time.perf_counter() - t) / n_articles


def _first_search(path: str) -> None:
    """In a child process: open the index directory, search one article; print the timings."""
    from fabscore.evidence import load

    t = time.perf_counter()
    index = load(path)
    t_load = time.perf_counter() - t
    q = queries(index.vectors, 1, np.random.default_rng(1))
    t = time.perf_counter()
    index.search(q, K)
    t_search = time.perf_counter() - t
    print(json.dumps({"load_s": round(t_load, 2), "first_search_s": round(t_search, 2),
                      "load_and_first_search_s": round(t_load + t_search, 2), "ivf_stored": index.ivf is not None
                      and (Path(path) / "ivf.safetensors").is_file(),
                      "peak_rss_gib": round(peak_rss() / 2**30, 3)}))


def load_times(n: int, rng, work: Path) -> dict:
    """Save a synthetic index of n sentences with and without its IVF structure and time, in a
    fresh process each, loading it and searching once (what a `fabscore score --evidence DIR` pays)."""
    from fabscore.evidence.index import EvidenceIndex
    from fabscore.evidence.table import EvidenceSentence

    v = synthetic(n, rng)
    filler = "x" * 110
    sentences = [EvidenceSentence("synthetic.jsonl", str(i // 30), 0, 130, f"sentence {i:>9} {filler}")
                 for i in range(n)]
    out = {"n_sentences": n}
    for name, ivf in (("without_ivf", False), ("with_ivf", True)):
        d = work / name
        t = time.perf_counter()
        EvidenceIndex(sentences, v).save(d, ivf=ivf)
        out[name] = {"save_s": round(time.perf_counter() - t, 2)}
        child = subprocess.run([sys.executable, __file__, "--first-search", str(d)], capture_output=True, text=True,
                               check=True)
        out[name].update(json.loads(child.stdout.strip().splitlines()[-1]))
        shutil.rmtree(d)
        print(f"{n:>10} {name:>12}: {out[name]}", flush=True)
    out["speedup"] = round(out["without_ivf"]["load_and_first_search_s"] / out["with_ivf"]["load_and_first_search_s"],
                           2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=None, help="index sizes (default 10000,30000,100000,300000,1000000; "
                                                  "--quick 10000)")
    ap.add_argument("--load-sizes", default=None,
                    help="sizes whose load + first search is timed ('' = none; default 1000000; --quick 10000)")
    ap.add_argument("--load-only", action="store_true", help="only the load timings, kept with the JSON's other keys")
    ap.add_argument("--first-search", default=None, help=argparse.SUPPRESS)  # the child process
    ap.add_argument("--articles", type=int, default=None, help="articles searched per size (default 20; --quick 3)")
    ap.add_argument("--quick", action="store_true", help="one small index, 3 articles: checks that it runs")
    ap.add_argument("--out", default=str(common.BENCHMARKS / "evidence_retrieval.json"))
    args = ap.parse_args(argv)
    if args.first_search:
        _first_search(args.first_search)
        return 0
    if args.sizes is None:
        args.sizes = "10000" if args.quick else "10000,30000,100000,300000,1000000"
    if args.load_sizes is None:
        args.load_sizes = "10000" if args.quick else "1000000"
    args.articles = args.articles or (3 if args.quick else 20)

    def loads() -> list[dict]:
        with tempfile.TemporaryDirectory(prefix="fabscore-retrieval-") as work:
            return [load_times(n, np.random.default_rng(n), Path(work)) for n in map(int, filter(None,
                    args.load_sizes.split(",")))]

    if args.load_only:
        res = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
        res["load"] = loads()
        res["load_load_average"] = os.getloadavg()
        common.write_json(args.out, res)
        return 0
    import faiss

    rng = np.random.default_rng(0)
    rows = []
    print(f"{'sentences':>10} {'exact ms/art':>13} {'faiss ms/art':>13} {'recall@5':>9} {'faiss build s':>14}")
    for n in map(int, args.sizes.split(",")):
        v = synthetic(n, rng)
        q = queries(v, args.articles, rng)  # float32, as scoring encodes them
        v = v.astype(np.float16)  # searched (exact and FAISS) as the index holds its vectors
        exact_ms = per_article_ms(lambda x, v=v: exact_search(v, x, K), q, args.articles)
        t = time.perf_counter()
        index = build_faiss(v)
        build_s = time.perf_counter() - t
        faiss_ms = per_article_ms(lambda x, index=index: index.search(x, K), q, args.articles)
        _, ei = exact_search(v, q, K)
        _, fi = index.search(q, K)
        recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ei, fi)]))
        rows.append({"n_sentences": n, "exact_ms_per_article": round(exact_ms, 2),
                     "faiss_ms_per_article": round(faiss_ms, 2), "faiss_recall_at_5": round(recall, 4),
                     "faiss_build_s": round(build_s, 2), "faiss_nlist": int(index.nlist),
                     "faiss_nprobe": int(index.nprobe)})
        print(f"{n:>10} {exact_ms:>13.2f} {faiss_ms:>13.2f} {recall:>9.3f} {build_s:>14.1f}", flush=True)
        del v, index
    cross = next((r["n_sentences"] for r in rows if r["faiss_ms_per_article"] < r["exact_ms_per_article"]
                  and r["faiss_recall_at_5"] >= MIN_RECALL), None)
    big = rows[-1]
    used = big["exact_ms_per_article"] if big["n_sentences"] <= EXACT_MAX_SENTENCES else big["faiss_ms_per_article"]
    res = {"rows": rows, "queries_per_article": PER_ARTICLE, "k": K, "threads": faiss.omp_get_max_threads(),
           "first_size_where_faiss_is_faster_at_recall_0.95": cross,
           "load_average": os.getloadavg(), "EXACT_MAX_SENTENCES": EXACT_MAX_SENTENCES,
           "largest_n": big["n_sentences"], "ms_per_article_at_largest_with_switch": used,
           "target_ms_per_article_at_1M": TARGET_MS_PER_ARTICLE_AT_1M,
           "quick": args.quick, "peak_rss_gib": round(peak_rss() / 2**30, 3)}
    res["load"] = loads()
    res["load_load_average"] = os.getloadavg()
    print(json.dumps({k: v for k, v in res.items() if k != "rows"}, indent=2))
    common.write_json(args.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
