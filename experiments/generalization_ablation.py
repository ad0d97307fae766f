"""Which features and training rows generalize to an unseen outlet and to attacks?

    .venv/bin/python experiments/generalization_ablation.py [--max-rows 2000] [--workers 2]

Training rows: the four news sets `fabscore train` uses for the default model, at most --max-rows
per set (half of each label where possible, hash-chosen: the rows of a smaller cap are a subset),
with attacked copies of a quarter of the rows (`--augment default`). Features come from the feature
cache; whatever is missing is featurized (lm, lmdist, style and embed, first 200-word chunk).

Every variant is fitted with the `train` protocol (C by story-grouped CV, Platt scaling on
out-of-fold decisions of real rows, the 1% threshold on out-of-fold human scores) and measured on:

- story-grouped CV on the real rows: AUROC, TPR at 1% FPR, and per source the FPR at the threshold;
- attacked copies of held-out stories (the same 5 story-grouped folds for every variant: fit outside
  the fold, score the fold's real humans against its attacked machine copies);
- PolitiFact++ stories not in llmfake (an outlet crawl and generator setup no variant trained on),
  first 200 words: AUROC, TPR at 1% FPR, and FPR / TPR at the variant's own 1% threshold;
- the same PolitiFact++ articles after each attack: attacked machine vs unattacked human AUROC, and
  for attacks that keep a text human-written the FPR of attacked humans at the threshold.

Writes experiments/generalization_ablation.json; prints one line per variant. Nothing is asserted.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from common import SHARED, parser
from training_ablation import attacked_copies_cv

from fabscore.features import lm
from fabscore.features.featurize import feature_names
from fabscore.training.data import attacks as atk
from fabscore.training.data.augment import DEFAULT_AUGMENT
from fabscore.training.data.examples import load
from fabscore.training.eval.metrics import auroc, tpr_at_fpr
from fabscore.training.fit.feature_cache import FeatureCache, fill
from fabscore.training.fit.heads import fit_head
from fabscore.training.train import TrainSettings, feature_matrices, prepare_examples

NEWS = ("llmfake", "aiclf_news", "iu_news", "usnews_mar2023_human")
PF_ATTACKS = ("char_typos", "char_spacing", "word_synonym", "word_delete", "sentence_reorder", "sentence_drop")
KINDS = ("lm", "lmdist", "style", "embed")
# LM aggregates that stay on their side of 0.5 under edits (docs/generalization.md, feature study) and
# the context-only ones: order statistics, trimmed means, top-k shares, lpmax.
ROBUST_LM = ("lm_q50_logp", "lm_q25_logp", "lm_q75_logp", "lm_trim_logp", "lm_median_logrank", "lm_top3",
             "lm_top10", "lm_median_z", "lm_trim_z", "lm_fastdetect", "lm_mean_lpmax", "lm_q50_lpmax",
             "lm_q50_entropy")


def politifact_rows(cache: FeatureCache, chunk_words: int, workers: int) -> dict:
    """PolitiFact++ stories not in llmfake, clean and attacked: {name: (articles, y, is_copy_of_human)}."""
    exs = [e for e in load(str(SHARED / "politifact_pp.clean.jsonl")) if not e.meta.get("in_llmfake")]
    out = {"none": ([cache.prepare(e.text, chunk_words) for e in exs], np.array([e.label for e in exs]))}
    for name in PF_ATTACKS:
        a = atk.ATTACKS[name]
        keep = [e for e in exs if e.label == 1 or a.keeps_human]
        out[name] = ([cache.prepare(a(e.text, 0), chunk_words) for e in keep], np.array([e.label for e in keep]))
    every = [x for arts, _ in out.values() for x in arts]
    fill(every, KINDS, cache, workers=workers, desc="featurizing PolitiFact++")
    return out


def matrix(articles, cache: FeatureCache, kinds: tuple[str, ...] = KINDS) -> np.ndarray:
    from fabscore.features.featurize import stack

    return np.stack([stack(cache.features(a, kinds), kinds)[0] for a in articles])


def attacked_auroc(human_scores: np.ndarray, scores: np.ndarray, y: np.ndarray) -> float:
    """An attack's machine rows (scores where y == 1) against the unattacked humans' scores."""
    machine = scores[y == 1]
    return auroc(np.r_[np.zeros(len(human_scores)), np.ones(len(machine))], np.r_[human_scores, machine])


def measure(cols: np.ndarray, rows: np.ndarray, X: np.ndarray, prep, pf: dict, pf_X: dict, seed: int = 0) -> dict:
    """The variant's columns, fitted on its rows (all, or the real ones only)."""
    y, groups, aug, src = prep.y[rows], prep.groups[rows], prep.augmented[rows], prep.keys("source")[rows]
    fit = fit_head(X[rows][:, cols], y, groups, seed=seed, augmented=aug, fprs=(0.01,))
    real = fit.held
    t = fit.thresholds[0]["threshold"]
    res = {"C": fit.C, "cv_auroc": auroc(y[real], fit.oof[real]),
           "cv_tpr_at_1pct_fpr": tpr_at_fpr(y[real], fit.oof[real], 0.01),
           "threshold_1pct": t,
           "cv_fpr_at_threshold_by_source": {s: float((fit.oof[real & (src == s) & (y == 0)] >= t).mean())
                                             for s in sorted(set(src[real & (y == 0)].tolist()))},
           "attacked_held_out_stories": attacked_copies_cv(X[:, cols], prep.y, prep.groups, prep, rows, fit.C, seed)}
    p_clean = fit.head.predict_proba(pf_X["none"][:, cols])[:, 1]
    y_clean = pf["none"][1]
    res["politifact_pp"] = {"auroc": auroc(y_clean, p_clean), "tpr_at_1pct_fpr": tpr_at_fpr(y_clean, p_clean, 0.01),
                            "fpr_at_threshold": float((p_clean[y_clean == 0] >= t).mean()),
                            "tpr_at_threshold": float((p_clean[y_clean == 1] >= t).mean()),
                            "n_human": int((y_clean == 0).sum()), "n_machine": int((y_clean == 1).sum())}
    res["politifact_pp_attacked"] = {}
    humans = p_clean[y_clean == 0]
    for name in PF_ATTACKS:
        ya = pf[name][1]
        p = fit.head.predict_proba(pf_X[name][:, cols])[:, 1]
        row = {"auroc": attacked_auroc(humans, p, ya),
               "tpr_at_threshold": float((p[ya == 1] >= t).mean())}
        if (ya == 0).any():
            row["human_fpr_at_threshold"] = float((p[ya == 0] >= t).mean())
        res["politifact_pp_attacked"][name] = row
    return res


def main() -> int:
    ap = parser(__doc__, "generalization_ablation.json", max_rows=2000, share=0.25)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default="", help="semicolon list of variant names to run (default: all)")
    args = ap.parse_args()
    t0 = time.time()
    specs = [str(SHARED / f"{d}.clean.jsonl") for d in NEWS]
    settings = TrainSettings(max_rows=args.max_rows, augment=DEFAULT_AUGMENT, augment_share=args.share)
    cache = FeatureCache()
    prep = prepare_examples(specs, settings, cache)
    X, _ = feature_matrices(prep, KINDS, cache, workers=args.workers)
    pf = politifact_rows(cache, settings.chunk_words, args.workers)
    pf_X = {k: matrix(arts, cache) for k, (arts, _) in pf.items()}
    names = feature_names(KINDS, "article")
    idx = {n: i for i, n in enumerate(names)}
    lm_all = [idx[n] for n in lm.LM_FEATURES]
    lmd = [i for n, i in idx.items() if n.startswith("lmd_")]
    style = [i for n, i in idx.items() if n.startswith("style_")]
    embed = [i for n, i in idx.items() if n.startswith("embed_")]
    robust = [idx[n] for n in ROBUST_LM]
    real_only = ~prep.augmented
    variants = {
        "lm + style, copies": (lm_all + style, None),
        "lm + style, no copies": (lm_all + style, real_only),
        "robust lm + style, copies": (robust + style, None),
        "lm + style + embed, copies": (lm_all + style + embed, None),
        "embed + style, copies": (style + embed, None),
        "lmdist + style, copies": (lmd + style, None),
        "lmdist + style, no copies": (lmd + style, real_only),
        "lm + lmdist + style, copies": (lm_all + lmd + style, None),
    }
    only = set(filter(None, args.only.split(";")))
    out_path = Path(args.out)
    out = json.loads(out_path.read_text()) if out_path.is_file() else {}
    out.setdefault("variants", {})
    out["rows"] = {"real": int((~prep.augmented).sum()), "copies": int(prep.augmented.sum()),
                   "max_rows_per_set": args.max_rows, "copy_share": args.share, "attacks": list(DEFAULT_AUGMENT),
                   "by_dataset": {d: int(sum(x == d for x in np.array(prep.dataset)[~prep.augmented]))
                                  for d in sorted(set(prep.dataset))},
                   "politifact_pp": {k: int(len(v[1])) for k, v in pf.items()}}
    for name, (cols, rows) in variants.items():
        if only and name not in only:
            continue
        res = measure(np.array(cols), np.ones(len(X), bool) if rows is None else rows, X, prep, pf, pf_X)
        res["n_features"] = len(cols)
        out["variants"][name] = res
        pp, att = res["politifact_pp"], res["attacked_held_out_stories"]
        print(f"{name}: CV {res['cv_auroc']:.3f} / TPR@1% {res['cv_tpr_at_1pct_fpr']:.3f}; "
              f"PF++ {pp['auroc']:.3f} / TPR@1% {pp['tpr_at_1pct_fpr']:.3f} / FPR@t {pp['fpr_at_threshold']:.3f}; "
              "PF++ attacked "
              + " ".join(f"{k.split('_')[-1]} {v['auroc']:.3f}" for k, v in res["politifact_pp_attacked"].items())
              + "; held-out copies " + " ".join(f"{k.split('_')[-1][:8]} {v:.3f}" for k, v in att.items()), flush=True)
        out_path.write_text(json.dumps(out, indent=2) + "\n")
    out["seconds"] = round(time.time() - t0, 1)
    out["load_average_end"] = os.getloadavg()
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
