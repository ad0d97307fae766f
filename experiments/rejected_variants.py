"""Three ideas for generalization that measured no better than the shipped default, kept runnable:

    .venv/bin/python experiments/rejected_variants.py [--out experiments/rejected_variants.json]

Same rows and protocol as experiments/generalization_ablation.py (the four news sets, at most 2,000
per set, attacked copies of half the rows; CV, PolitiFact++ clean and attacked, held-out attacked
copies), all from the feature cache:

1. **Late fusion with the MiniLM embedding.** The maintainers' unseen outlet found the embedding
   robust under paraphrase where the token statistics invert. Instead of one head over both (which
   learns topics), the shipped head's log-odds plus w times the log-odds of a head on the embedding
   (alone, or with style), w in 0.25 / 0.5 / 1.
2. **Histograms over tokens in a clean context.** An edit disturbs the tokens just after it; the
   same `lmdist` histograms over only the tokens whose last W+1 tokens all rank within R (W, R in
   (1, 30), (2, 100), (3, 100), (3, 1000)), added to or replacing `lmdist`.
3. **A threshold that holds 1% FPR in every human source**: the highest of each source's own 1%
   threshold instead of one 1% threshold over all humans (what it costs in recall).

Writes experiments/rejected_variants.json; prints a line per variant. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import generalization_ablation as ga
import numpy as np
from common import HERE
from numpy.lib.stride_tricks import sliding_window_view
from training_ablation import attacked_copies_cv

from fabscore.features import lm, lmdist
from fabscore.features.featurize import feature_names
from fabscore.training.data.augment import DEFAULT_AUGMENT
from fabscore.training.eval.metrics import auroc, threshold_for_fpr, tpr_at_fpr
from fabscore.training.fit.feature_cache import FeatureCache
from fabscore.training.fit.heads import fit_head
from fabscore.training.train import TrainSettings, feature_matrices, prepare_examples


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def clean_context(stats: dict[str, np.ndarray], window: int, max_rank: int) -> np.ndarray:
    """lmdist's three histograms over the tokens whose last window+1 tokens all rank <= max_rank,
    and the share of tokens kept."""
    bad = stats["rank"] > max_rank
    keep = ~sliding_window_view(np.r_[np.zeros(window, bool), bad], window + 1).any(axis=1)
    if keep.sum() < 10:
        keep = np.ones_like(keep)
    hist = lmdist.aggregate({k: v[keep] for k, v in stats.items()})[: len(lmdist.LOGP_EDGES) + len(lmdist.RANK_EDGES)
                                                                   + len(lmdist.Z_EDGES) + 3]
    return np.r_[hist, keep.mean()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "rejected_variants.json"))
    args = ap.parse_args(argv)
    t0 = time.time()
    cache = FeatureCache()
    settings = TrainSettings(max_rows=2000, augment=DEFAULT_AUGMENT, augment_share=0.5)
    prep = prepare_examples([str(ga.SHARED / f"{d}.clean.jsonl") for d in ga.NEWS], settings, cache)
    X, _ = feature_matrices(prep, ga.KINDS, cache, workers=1)
    pf = ga.politifact_rows(cache, settings.chunk_words, 1)
    pf_X = {k: ga.matrix(a, cache) for k, (a, _) in pf.items()}
    names = feature_names(ga.KINDS, "article")
    shipped = [i for i, n in enumerate(names) if n.startswith(("lmd_", "style_"))]
    style = [i for i, n in enumerate(names) if n.startswith("style_")]
    embed = [i for i, n in enumerate(names) if n.startswith("embed_")]
    y, groups, aug, src = prep.y, prep.groups, prep.augmented, prep.keys("source")
    real = ~aug
    yc = pf["none"][1]

    def measure(oof: np.ndarray, score, Xv: np.ndarray | None = None, C: float | None = None) -> dict:
        """oof: out-of-fold scores of the real rows; score(name) -> PolitiFact++ scores for that attack."""
        yr, s = y[real], src[real]
        t = threshold_for_fpr(oof[yr == 0], 0.01)
        pc = score("none")
        hum = pc[yc == 0]
        res = {"cv_auroc": auroc(yr, oof), "cv_tpr_at_1pct_fpr": tpr_at_fpr(yr, oof, 0.01),
               "cv_fpr_at_threshold_by_source": {k: float((oof[(yr == 0) & (s == k)] >= t).mean())
                                                 for k in sorted(set(s[yr == 0].tolist()))},
               "politifact_pp": {"auroc": auroc(yc, pc), "tpr_at_1pct_fpr": tpr_at_fpr(yc, pc, 0.01),
                                 "fpr_at_threshold": float((hum >= t).mean())},
               "politifact_pp_attacked": {}}
        for a in ga.PF_ATTACKS:
            ya, pa = pf[a][1], score(a)
            res["politifact_pp_attacked"][a] = ga.attacked_auroc(hum, pa, ya)
        if Xv is not None:
            res["attacked_held_out_stories"] = attacked_copies_cv(Xv, y, groups, prep, np.ones(len(y), bool), C, 0)
        return res

    def report(name: str, res: dict) -> None:
        pp = res["politifact_pp"]
        print(f"{name}: CV {res['cv_auroc']:.3f} / {res['cv_tpr_at_1pct_fpr']:.3f}; PF++ {pp['auroc']:.3f} / "
              f"{pp['tpr_at_1pct_fpr']:.3f} / FPR@t {pp['fpr_at_threshold']:.3f}; attacked "
              + " ".join(f"{v:.3f}" for v in res["politifact_pp_attacked"].values())
              + ("; held-out copies " + " ".join(f"{k}: {v:.3f}" for k, v in res["attacked_held_out_stories"].items())
                 if "attacked_held_out_stories" in res else ""), flush=True)

    out: dict = {"variants": {}}
    base = fit_head(X[:, shipped], y, groups, augmented=aug, fprs=(0.01,))
    out["variants"]["shipped: lmdist + style"] = measure(
        base.oof[real], lambda a: base.head.predict_proba(pf_X[a][:, shipped])[:, 1], X[:, shipped], base.C)
    report("shipped: lmdist + style", out["variants"]["shipped: lmdist + style"])

    # 1. late fusion
    for other_name, other in (("embed", embed), ("embed + style", embed + style)):
        fo = fit_head(X[:, other], y, groups, augmented=aug, fprs=(0.01,))
        for w in (0.25, 0.5, 1.0):
            name = f"late fusion: shipped + {w} x ({other_name})"
            out["variants"][name] = measure(
                _logit(base.oof[real]) + w * _logit(fo.oof[real]),
                lambda a, w=w, fo=fo, other=other: _logit(base.head.predict_proba(pf_X[a][:, shipped])[:, 1])
                + w * _logit(fo.head.predict_proba(pf_X[a][:, other])[:, 1]))
            report(name, out["variants"][name])

    # 2. clean-context histograms, from the per-token statistics the lm cache holds
    def token_stats(art) -> dict[str, np.ndarray]:
        ts = cache.get("lm", art)["lm_token_stats"]
        return {k: ts[i].astype(np.float64) for i, k in enumerate(lm.TOKEN_STATS)}

    tr_stats = [token_stats(a) for a in prep.articles]
    pf_stats = {k: [token_stats(a) for a in arts] for k, (arts, _) in pf.items()}
    for window, max_rank in ((1, 30), (2, 100), (3, 100), (3, 1000)):
        F = np.stack([clean_context(s, window, max_rank) for s in tr_stats])
        PF = {k: np.stack([clean_context(s, window, max_rank) for s in v]) for k, v in pf_stats.items()}
        for how, cols in (("added to", shipped), ("replacing", style)):
            Xv = np.c_[X[:, cols], F]
            f = fit_head(Xv, y, groups, augmented=aug, fprs=(0.01,))
            name = f"clean context W={window} R={max_rank}, {how} lmdist"
            def pf_scores(a, f=f, cols=cols, PF=PF):
                return f.head.predict_proba(np.c_[pf_X[a][:, cols], PF[a]])[:, 1]

            out["variants"][name] = measure(f.oof[real], pf_scores, Xv, f.C)
            report(name, out["variants"][name])

    # 3. the per-source threshold
    oof, yr, s = base.oof[real], y[real], src[real]
    pc = base.head.predict_proba(pf_X["none"][:, shipped])[:, 1]
    per_source = {k: threshold_for_fpr(oof[(yr == 0) & (s == k)], 0.01) for k in sorted(set(s[yr == 0].tolist()))}
    rows = {}
    for name, t in (("one 1% threshold over all humans", threshold_for_fpr(oof[yr == 0], 0.01)),
                    ("highest of each source's 1% threshold", max(per_source.values()))):
        flagged = {k: f"{int((oof[(yr == 0) & (s == k)] >= t).sum())} of {int(((yr == 0) & (s == k)).sum())}"
                   for k in per_source}
        rows[name] = {"threshold": t, "cv_tpr": float((oof[yr == 1] >= t).mean()),
                      "cv_fpr": float((oof[yr == 0] >= t).mean()), "cv_flagged_by_source": flagged,
                      "politifact_pp_tpr": float((pc[yc == 1] >= t).mean()),
                      "politifact_pp_fpr": float((pc[yc == 0] >= t).mean())}
        print(name, json.dumps(rows[name]), flush=True)
    out["threshold_rules"] = rows
    out["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
