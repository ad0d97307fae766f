"""Which training choices generalize? An ablation on cached features.

    .venv/bin/python experiments/training_ablation.py [--max-rows 250]

Reads the rows `fabscore train` would read for the default model's mix (the feature cache must hold
them: run the train command in the README first) and compares, with the same story-grouped
protocol `train` uses:

- features: the 13 LM aggregates of featurizer version 1 + style, against all 23 of version 2
  (robust order statistics, trimmed means, top-3 share, median z, the model's own top-choice
  log-probability) + style;
- attacked copies in training or not;
- the completion-model essays and Wikipedia introductions (outfox_essays, iu_wiki_en) in the mix or not.

For each variant: grouped-CV AUROC and TPR at 1% FPR on real rows; leave one generator family out
(chat model / completion model); leave one data set out; the out-of-fold AUROC of attacked copies
per attack (only where copies were trained on: the attack's other stories were seen) and leave one
attack out (that attack's copies never trained on). Writes experiments/training_ablation.json.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from common import SHARED, parser

from fabscore.features import lm
from fabscore.features.featurize import feature_names
from fabscore.training.data.augment import DEFAULT_AUGMENT
from fabscore.training.eval.loo import leave_one_attack_out, leave_one_out
from fabscore.training.eval.metrics import auroc, tpr_at_fpr
from fabscore.training.fit.feature_cache import FeatureCache
from fabscore.training.fit.heads import fit_head
from fabscore.training.train import TrainSettings, feature_matrices, prepare_examples

NEWS = ("llmfake", "aiclf_news", "iu_news", "usnews_mar2023_human")
EXTRA = ("outfox_essays", "iu_wiki_en")
V1 = 13  # featurizer version 1 had the first 13 LM_FEATURES


def run(X, y, groups, prep, rows: np.ndarray, seed: int = 0) -> dict:
    """The train protocol on the chosen rows and columns."""
    ds = np.array(prep.dataset)[rows]
    aug = prep.augmented[rows]
    Xr, yr, gr = X[rows], y[rows], groups[rows]
    fit = fit_head(Xr, yr, gr, seed=seed, augmented=aug)
    real = fit.held
    res = {"n_real": int(real.sum()), "n_copies": int(aug.sum()), "C": fit.C,
           "cv_auroc": auroc(yr[real], fit.oof[real]), "cv_tpr_at_1pct_fpr": tpr_at_fpr(yr[real], fit.oof[real], 0.01)}
    fam = prep.keys("family")[rows]
    res["loo_family"] = {k: v["auroc"] for k, v in
                         leave_one_out(Xr, yr, gr, fam, fit.C, seed, machine_only=True, augmented=aug).items()}
    res["loo_dataset"] = {k: v["auroc"] for k, v in
                          leave_one_out(Xr, yr, gr, ds, fit.C, seed, machine_only=False, augmented=aug).items()}
    news = np.isin(ds, NEWS)
    res["cv_auroc_news_rows"] = auroc(yr[real & news], fit.oof[real & news])
    res["cv_tpr_at_1pct_fpr_news_rows"] = tpr_at_fpr(yr[real & news], fit.oof[real & news], 0.01)
    res["attacked_copies_grouped_cv_auroc"] = attacked_copies_cv(X, y, groups, prep, rows, fit.C, seed)
    return res


def attacked_copies_cv(X, y, groups, prep, rows: np.ndarray, C: float, seed: int) -> dict:
    """One protocol for every variant, on the news rows: 5 story-grouped folds; fit on the variant's rows outside the
    fold (its copies too, if it has them), score the fold's real humans and its attacked machine copies.
    Copies of the evaluated stories are never trained on, whether or not the variant uses copies."""
    from fabscore.models.head import cv_splits

    attack, real = np.array(prep.attack), ~prep.augmented
    scores = np.full(len(y), np.nan)
    evalable = real | (prep.augmented & (y == 1))  # every real row and every machine copy
    for _train_idx, test_idx in cv_splits(y[real], groups[real], 5, seed):
        test_groups = set(groups[real][test_idx].tolist())
        in_test = np.isin(groups, list(test_groups))
        tr = rows & ~in_test
        fit = fit_head(X[tr], y[tr], groups[tr], seed=seed, Cs=(C,), fprs=(0.01,), augmented=prep.augmented[tr])
        te = in_test & evalable & np.isin(np.array(prep.dataset), NEWS)  # news rows: comparable across variants
        scores[te] = fit.head.predict_proba(X[te])[:, 1]
    humans = real & (y == 0) & ~np.isnan(scores)
    out = {}
    for a in sorted(set(attack.tolist()) - {""}):
        m = (attack == a) & (y == 1) & ~np.isnan(scores)
        out[a] = auroc(np.r_[np.zeros(humans.sum()), np.ones(m.sum())], np.r_[scores[humans], scores[m]])
    m = real & (y == 1) & ~np.isnan(scores)
    out["none (same protocol)"] = auroc(np.r_[np.zeros(humans.sum()), np.ones(m.sum())],
                                        np.r_[scores[humans], scores[m]])
    return out


def main() -> int:
    ap = parser(__doc__, "training_ablation.json", max_rows=250, share=0.25)
    ap.add_argument("--embed", action="store_true", help="also the MiniLM-embedding variants (embed cached)")
    args = ap.parse_args()
    t0 = time.time()
    specs = [str(SHARED / f"{d}.clean.jsonl") for d in NEWS + EXTRA]
    settings = TrainSettings(max_rows=args.max_rows, augment=DEFAULT_AUGMENT, augment_share=args.share)
    cache = FeatureCache()
    prep = prepare_examples(specs, settings, cache)
    missing = sum(not (cache.has("lm", a) and cache.has("style", a)) for a in prep.articles)
    if missing:
        print(f"{missing} of {len(prep.articles)} rows are not in the feature cache: run the README's train command "
              "first (this benchmark never featurizes)", file=sys.stderr)
        return 2
    X, _ = feature_matrices(prep, ("lm", "style"), cache, workers=1)
    y, groups = prep.y, prep.groups
    names = feature_names(("lm", "style"), "article")
    v1_cols = np.array([i for i, n in enumerate(names) if n not in lm.LM_FEATURES[V1:]])
    ds = np.array(prep.dataset)
    everything = np.ones(len(y), bool)
    no_copies = ~prep.augmented
    news_only = np.isin(ds, NEWS)
    third = np.array([int(hashlib.sha256(g.encode()).hexdigest()[:8], 16) % 3 == 0 for g in groups])
    variants = {
        "lm v2 + style, copies, news + essays + wiki (shipped)": (None, everything),
        "lm v1 + style, copies, news + essays + wiki": (v1_cols, everything),
        "lm v2 + style, no copies, news + essays + wiki": (None, no_copies),
        "lm v1 + style, no copies, news + essays + wiki": (v1_cols, no_copies),
        "lm v2 + style, copies, news only": (None, news_only),
        "lm v2 + style, no copies, news only": (None, news_only & no_copies),
        "lm v2 + style, copies, news + a third of essays + wiki": (None, news_only | third),
    }
    if args.embed and all(cache.has("embed", a) for a in prep.articles):  # the fast model's features are cached too
        XE, _ = feature_matrices(prep, ("embed",), cache, workers=1)
        X = np.c_[X, XE]
        variants["lm v2 + style + MiniLM embedding, copies, news + essays + wiki"] = ("all", everything)
        variants["MiniLM embedding + style (fast model), copies, news + essays + wiki"] = ("fast", everything)
    n_lm_style = len(names)
    n_style = sum(n.startswith("style_") for n in names)
    out = {"rows": {"real": int((~prep.augmented).sum()), "copies": int(prep.augmented.sum()),
                    "max_rows_per_spec": args.max_rows, "copy_share": args.share, "attacks": list(DEFAULT_AUGMENT)},
           "variants": {}}
    for name, (cols, rows) in variants.items():
        if isinstance(cols, str):
            Xv = X if cols == "all" else np.c_[X[:, n_lm_style - n_style:n_lm_style], X[:, n_lm_style:]]
        else:
            Xv = X[:, :n_lm_style] if cols is None else X[:, cols]
        res = run(Xv, y, groups, prep, rows)
        if prep.augmented[rows].any():
            attack = np.array(prep.attack)
            res["leave_one_attack_out"] = {
                k: v["auroc"] for k, v in leave_one_attack_out(Xv[rows], y[rows], groups[rows], attack[rows],
                                                                res["C"], 0).items()}
        rest = ~rows & ~prep.augmented & ~np.isin(groups, groups[rows])
        if len(set(y[rest].tolist())) == 2:  # rows this variant never trained on: essays and Wikipedia for news-only
            fit = fit_head(Xv[rows], y[rows], groups[rows], seed=0, Cs=(res["C"],), augmented=prep.augmented[rows])
            p = fit.head.predict_proba(Xv[rest])[:, 1]
            fam = prep.keys("family")
            res["unseen_rows"] = {"n": int(rest.sum()), "auroc": auroc(y[rest], p)}
            for f in sorted(set(fam[rest & (y == 1)].tolist())):
                m = rest & ((y == 0) | (fam == f))
                res["unseen_rows"][f"auroc {f} vs their humans"] = auroc(y[m], p[m[rest]])
        out["variants"][name] = res
        print(name, json.dumps({k: v for k, v in res.items()}, default=lambda v: round(v, 3)), flush=True)
    out["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
