"""Do cached training features depend on the thread count that computed them, and does the head?

    nice -n 10 .venv/bin/python experiments/cache_threads.py --n 200 --out experiments/cache_threads.json

Before every forward pass ran on one thread (fabscore.models.threads), training cached what
whichever engine computed: `--workers 1` featurized in the training process on all torch
threads, `--workers N` and Ray in single-threaded workers. This featurizes the 200-word heads of
n training articles (llmfake and usnews_mar2023, human and machine, hash-chosen) with every pass
on 1 thread and on 2 threads (the rule switched off), compares the SmolLM2 token statistics and
the `lmdist` + `style` feature blocks, fits the default model's article head
(LinearHead, grouped CV) on each, and compares the two heads' coefficients and out-of-fold scores.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from fabscore.features.featurize import featurize_kinds, stack
from fabscore.models import threads
from fabscore.text.sentences import head, prepare
from fabscore.training.fit.heads import fit_head
from fabscore.training.paths import data_dir

KINDS = ("lmdist", "style")


def sample(n: int) -> list[dict]:
    rows = []
    for name in ("llmfake.clean.jsonl", "usnews_mar2023_human.clean.jsonl"):
        rows += [json.loads(line) for line in (data_dir() / name).open()]
    rows.sort(key=lambda r: hashlib.sha256(f"threads:{r['id']}".encode()).hexdigest())
    humans = [r for r in rows if r["label"] == "human"][: n // 2]
    machines = [r for r in rows if r["label"] == "machine"][: n - len(humans)]
    return humans + machines


def blocks(texts: list[str], n_threads: int) -> list[dict]:
    torch.set_num_threads(n_threads)
    threads.PASS_THREADS = n_threads
    try:
        return [featurize_kinds(head(prepare(t), 200), ("lm", *KINDS)) for t in texts]
    finally:
        threads.PASS_THREADS = 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--out", default=str(Path(__file__).with_name("cache_threads.json")))
    args = ap.parse_args()
    rows = sample(args.n)
    texts = [r["text"] for r in rows]
    y = np.array([r["label"] == "machine" for r in rows], dtype=int)
    groups = np.array([r.get("pair_id") or r["id"] for r in rows])
    runs = {t: blocks(texts, t) for t in (1, 2)}
    stats_differ = sum(not np.array_equal(a["lm"]["lm_token_stats"], b["lm"]["lm_token_stats"])
                       for a, b in zip(runs[1], runs[2]))
    X = {}
    for t, bl in runs.items():
        merged = [{k: v for kind in KINDS for k, v in b[kind].items()} for b in bl]
        X[t] = np.array([stack(m, KINDS)[0] for m in merged])
    rows_differ = int((np.abs(X[1] - X[2]).max(axis=1) > 0).sum())
    fits = {t: fit_head(X[t], y, groups, seed=0, fprs=(0.01,)) for t in (1, 2)}
    coef = {t: fits[t].head.tensors()["coef"] for t in fits}
    res = {"articles": len(rows), "token_stats_differ": int(stats_differ), "feature_rows_differ": rows_differ,
           "max_feature_diff": float(np.abs(X[1] - X[2]).max()),
           "head_C": {t: fits[t].C for t in fits},
           "max_coef_diff": float(np.abs(coef[1] - coef[2]).max()),
           "max_oof_score_diff": float(np.abs(fits[1].oof - fits[2].oof).max()),
           "cv_auroc": {t: fits[t].cv_auroc for t in fits},
           "thresholds_1pct": {t: fits[t].thresholds for t in fits}}
    print(json.dumps(res, indent=1, default=str))
    Path(args.out).write_text(json.dumps(res, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
