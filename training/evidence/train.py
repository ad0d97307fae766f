"""Train evidence mode's consistency head and write it into a model directory.

    python -m fabscore.training.evidence --out inference/models/default \
        --metrics experiments/evidence_consistency.json

The head (logistic regression over `fabscore.evidence.features`, Platt-calibrated) is fitted on
the training stories' pairs (pairs.py: corruptions, same-article name swaps, natural rewrites,
and corrupted rewrites). With `--per-dataset N` it is also fitted on up to N human-labelled
claim/source pairs per set of `<data>/evidence/claims/` (human_pairs.py; each claim against the
sentences of its source nearest it, as scoring retrieves evidence) and refitted once per family of
sets left out, for the leave-one-dataset-out table (human_metrics.py); QAGS-CNNDM and Climate-FEVER
are never fitted on. Over these features the human pairs did not pay (docs/evidence.md: lower
corruption AUROCs, no gain left out), so the shipped head is fitted on corruption pairs only. The
relevance cut is chosen on training data; the held-out stories give the corruption metrics
(metrics.py), the statuses and claim verdicts included.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabscore.evidence.annotate import EvidenceCheck, check_sentences
from fabscore.evidence.checker import Checker, load_checker
from fabscore.evidence.features import FEATURES, TOP_K
from fabscore.evidence.index import build_from_texts, encode
from fabscore.evidence.table import EvidenceError
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


@dataclass
class HumanRows:
    """The human-labelled pairs as head rows: overlap features against their passages."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    datasets: np.ndarray
    families: np.ndarray
    trainable: np.ndarray  # rows the head may fit on (not the sets kept for evaluation)


def human_rows(per_dataset: int, seed: int, log) -> HumanRows:
    from fabscore.training.evidence import human_pairs, human_passages

    # the passages are built (and cached) for POOL pairs per set; the head takes the first per_dataset
    # of each set's drawn groups, so a smaller share reuses the cache
    pairs = human_pairs.load(per_dataset=max(per_dataset, human_passages.POOL), seed=seed)
    _, overlap = human_passages.build(pairs, log=log)
    datasets = np.array([p.dataset for p in pairs])
    keep = np.concatenate([np.flatnonzero(datasets == d)[:per_dataset] for d in dict.fromkeys(datasets)])
    pairs, overlap, datasets = [pairs[i] for i in keep], overlap[keep], datasets[keep]
    log(f"human-labelled pairs: {len(pairs)} from {len(set(datasets.tolist()))} sets")
    return HumanRows(overlap, np.array([p.label for p in pairs]), np.array([p.group for p in pairs]), datasets,
                     np.array([p.family for p in pairs]), ~np.isin(datasets, human_pairs.EVAL_ONLY))


def human_lodo(human: HumanRows, Xc: np.ndarray, yc: np.ndarray, gc: np.ndarray, C: float, seed: int,
               before, log) -> dict:
    """The leave-one-dataset-out table: per family left out, the head refitted (at the shipped C) on the
    corruption pairs and the other families' pairs, scored on the left-out sets; beside it the head
    the model directory held before (`before`, a LinearHead over the same features, or None)."""
    from fabscore.models.head import LinearHead
    from fabscore.training.evidence.human_metrics import lodo_table
    from fabscore.training.evidence.human_pairs import REPORTED

    head_p = np.zeros(len(human.y))
    for fam in sorted(set(human.families.tolist())):
        test = human.families == fam
        train = human.trainable & ~test
        head = LinearHead(Cs=(C,), random_state=seed).fit(np.concatenate([Xc, human.X[train]]),
                                                          np.concatenate([yc, human.y[train]]),
                                                          groups=np.concatenate([gc, human.groups[train]]))
        head_p[test] = head.predict_proba(human.X[test])[:, 1]
        log(f"head without {fam}: fitted")
    columns = {"head": head_p}
    if before is not None:
        columns["head_before"] = before.predict_proba(human.X)[:, 1]
    return lodo_table(human.datasets, human.y, columns, REPORTED)


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
    ap.add_argument("--per-dataset", type=int, default=0,
                    help="also fit on at most this many human-labelled pairs per set (whole groups), and report "
                         "leave one dataset out; 0 (the shipped head): corruption pairs only")
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

    human = human_rows(args.per_dataset, args.seed, log) if args.per_dataset else None
    tr_pool, tr_pairs, tr_checked = splits["train"]
    te_pool, te_pairs, te_checked = splits["test"]
    y = np.array([p.label for p in tr_pairs])
    groups = np.array([p.story for p in tr_pairs])
    X = tr_checked.X
    if human is not None:  # the human-labelled pairs join the corruption pairs
        X, y, groups = (np.concatenate([a, b]) for a, b in ((X, human.X[human.trainable]),
                                                          (y, human.y[human.trainable]),
                                                          (groups, human.groups[human.trainable])))
    fit = fit_head(X, y, groups, seed=args.seed, fprs=())
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
    if human is not None:
        try:
            before = load_checker(args.out).head
        except EvidenceError:
            before = None
        metrics["human"] = human_lodo(human, tr_checked.X, np.array([p.label for p in tr_pairs]),
                                      np.array([p.story for p in tr_pairs]), fit.C, args.seed, before, log)
        metrics["human"]["per_dataset"] = args.per_dataset
    metrics["sizes"] = {k: {"pool_sentences": len(v[0]), "pairs": len(v[1]),
                            "by_kind": {t: int(sum(p.kind == t for p in v[1])) for t in set(p.kind for p in v[1])}}
                        for k, v in splits.items()}
    metrics["sizes"]["relevance_pool"] = {"articles": len(texts), "sentences": len(curve_pool)}
    metrics["seconds"] = round(time.monotonic() - started, 1)
    checker.info = {
        "trained_on": "FactCC-style corruptions of llmfake/usnews human sentences, same-article name swaps, "
                      "llmfake rewrites and corrupted rewrites"
                      + ("" if human is None else ", and human-labelled claim/source pairs of "
                         f"{', '.join(sorted(set(human.datasets[human.trainable].tolist())))} "
                         f"(at most {args.per_dataset} per set)") + " (fabscore.training.evidence)",
        "held_out": {"natural_auroc": metrics["natural_auroc"],
                     "corruption_auroc": {k: v["auroc"] for k, v in metrics["corruption_auroc"].items()},
                     "claim_level": metrics["claim_level"]}}
    if human is not None:
        checker.info["human_sets"] = sorted(set(human.datasets[human.trainable].tolist()))
        checker.info["held_out"]["leave_one_dataset_out"] = {
            d: v["head"] for d, v in metrics["human"]["sets"].items()}
    path = resolve(args.out)
    checker.save(path)
    write_manifest(path)
    log(json.dumps(metrics, indent=2))
    if args.metrics:
        Path(args.metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0
