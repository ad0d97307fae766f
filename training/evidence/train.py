"""Train evidence mode's consistency head and write it into a model directory.

    python -m fabscore.training.evidence --out inference/models/default \
        --metrics experiments/evidence_consistency.json

The head (logistic regression over `fabscore.evidence.features`, Platt-calibrated) is fitted
on the training stories' pairs (pairs.py: corruptions, same-article name swaps, natural rewrites,
and corrupted rewrites) only; the relevance cut is chosen on training data too; the held-out
stories give the metrics (metrics.py), the statuses and claim verdicts included.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fabscore.evidence.annotate import EvidenceCheck, check_sentences
from fabscore.evidence.checker import Checker
from fabscore.evidence.features import FEATURES, TOP_K
from fabscore.evidence.index import build_from_texts, encode
from fabscore.models.directory import resolve, write_manifest
from fabscore.training.evidence.metrics import evaluate
from fabscore.training.evidence.pairs import Sources, outside_of, split
from fabscore.training.evidence.relevance import (
    RELEVANCE_QUANTILE,
    relevance_curve,
    relevance_pool,
    relevance_statistics,
)
from fabscore.training.fit.heads import fit_head


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fabscore.training.evidence", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="default", help="model directory to write the head into (default: shipped)")
    ap.add_argument("--metrics", default=None, help="write the held-out metrics here (JSON)")
    ap.add_argument("--n-train", type=int, default=260, help="training stories (human articles)")
    ap.add_argument("--n-test", type=int, default=160, help="held-out stories")
    ap.add_argument("--per-article", type=int, default=3, help="claim sentences per article")
    ap.add_argument("--rewrites", type=int, default=250, help="machine rewrites per split")
    ap.add_argument("--test-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.monotonic()

    src = Sources.read()
    splits = {}
    for name, n in (("train", args.n_train), ("test", args.n_test)):
        log(f"{name}: building pairs")
        pool, pairs = split(name, src, n, args.test_share, args.seed, args.per_article, args.rewrites, log=log,
                            abstractive=name == "train")
        t = time.monotonic()
        checked = check_sentences([p.text for p in pairs], pool, TOP_K)
        log(f"  {len(pairs)} pairs featurized ({time.monotonic() - t:.0f} s)")
        splits[name] = (pool, pairs, checked)

    tr_pool, tr_pairs, tr_checked = splits["train"]
    te_pool, te_pairs, te_checked = splits["test"]
    y = np.array([p.label for p in tr_pairs])
    fit = fit_head(tr_checked.X, y, np.array([p.story for p in tr_pairs]), seed=args.seed, fprs=())
    log(f"head: C {fit.C}, grouped-CV AUROC {max(fit.cv_auroc.values()):.4f}")
    # the relevance cut by pool size, from training-split articles only; probes: the training claim sentences
    t = time.monotonic()
    used_outside = {r["id"] for r in outside_of(src, "train", args.test_share)}
    texts, ids = relevance_pool(src, args.test_share, used_outside)
    curve_pool = build_from_texts(texts, ids)
    originals = [p for p in tr_pairs if p.kind == "original"]
    relevance, curve = relevance_curve(encode([p.text for p in originals]), curve_pool.vectors,
                                       np.array([s.id for s in curve_pool.sentences]),
                                       np.array([p.story for p in originals]), np.random.default_rng([args.seed, 7]))
    log(f"relevance cut: {relevance} from pools of {curve[0]['pool_sentences']}-{curve[-1]['pool_sentences']} "
        f"sentences ({time.monotonic() - t:.0f} s)")

    support = fit.head.predict_proba(te_checked.X)[:, 1]
    checker = Checker(fit.head, relevance, TOP_K)
    results = EvidenceCheck(te_pool, checker).check([p.text for p in te_pairs], checked=te_checked)
    metrics = evaluate(te_pairs, support, results)
    metrics["train_cv_auroc"] = fit.cv_auroc
    metrics["C"] = fit.C
    # held out: restated rewrites (related) and the training claim sentences (unrelated) in the held-out pool
    kinds = np.array([p.kind for p in te_pairs])
    unrel_sims, _ = te_pool.search(encode([p.text for p in originals]), 1)
    metrics["relevance"] = {"rule": f"{RELEVANCE_QUANTILE:.0%} quantile of unrelated sentences' best cosine, "
                                    "a line in ln(pool sentences)", "fit": relevance.as_dict(), "curve": curve,
                            "held_out": relevance_statistics(te_checked.sims[kinds == "restated", 0], unrel_sims[:, 0],
                                                             relevance(len(te_pool)))}
    metrics["coef"] = dict(zip(FEATURES, map(float, fit.head.tensors()["coef"])))
    metrics["sizes"] = {k: {"pool_sentences": len(v[0]), "pairs": len(v[1]),
                            "by_kind": {t: int(sum(p.kind == t for p in v[1])) for t in set(p.kind for p in v[1])}}
                        for k, v in splits.items()}
    metrics["sizes"]["relevance_pool"] = {"articles": len(texts), "sentences": len(curve_pool)}
    metrics["seconds"] = round(time.monotonic() - started, 1)
    checker.info = {
        "trained_on": "FactCC-style corruptions of llmfake/usnews human sentences, same-article name swaps, "
                      "llmfake rewrites and corrupted rewrites (fabscore.training.evidence)",
        "held_out": {"natural_auroc": metrics["natural_auroc"],
                     "corruption_auroc": {k: v["auroc"] for k, v in metrics["corruption_auroc"].items()},
                     "claim_level": metrics["claim_level"]}}
    path = resolve(args.out)
    checker.save(path)
    write_manifest(path)
    log(json.dumps(metrics, indent=2))
    if args.metrics:
        Path(args.metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0
