"""Does a second language model (gemma-3-270m) help SmolLM2-135M tell 2024 chat-model text from human
text? A per-feature-block ablation on the rows featurize.py wrote.

    python experiments/two_lm/ablation.py          # -> results/ablation.json and results/ablation.md

Blocks:
- `default`: the shipped default's kinds (SmolLM2 `lmdist` + `lmword`, and `style` + `lex` from the text);
- `gemma`: the same token-statistic kinds on gemma's own pass (`lm` aggregates, `lmdist`, `lmword`);
- `gemma_lmdist`: gemma's `lmdist` alone;
- `cross`: the two models compared word by word (CROSS_FEATURES below): each word's surprisal under each
  model, their difference, ratio and correlation over the text, and each model's surprisal against the
  other's predictive entropy (the Binoculars idea, observer perplexity over cross-perplexity, adapted
  to two vocabularies by comparing words, not tokens).

Protocols (story-grouped: a human text and its rewrites are always on the same side):
- `l2r_logo`: l2r_rewrites leave one generator out. Stories in 5 folds; for fold i and rewriter g, fit on
  the other folds' humans and the other rewriters' rewrites, score fold i's humans and g's rewrites.
  AUROC per rewriter over the pooled folds.
- `glimpse_logo`: the same on glimpse_other (2024 models continuing an opening), leave one generator out.
- `l2r_to_glimpse`: fit on every l2r row, score glimpse per generator (a genre and task never seen).

The model is the train recipe's: StandardScaler and class-balanced logistic regression at C = 0.3.
There are no news rows here (their features would need both passes over ~5,000 more texts), so these
figures compare blocks with each other, not with the shipped model's card.
"""
from __future__ import annotations

import json
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.simplefilter("ignore", ConvergenceWarning)
HERE = Path(__file__).resolve().parent
TABLES, RESULTS = HERE / "tables", HERE / "results"
CONTENT, FUNCTION, NAME = 0, 1, 2  # lmword's word classes

CROSS_FEATURES = (
    "x_mean_s", "x_mean_g", "x_mean_diff", "x_std_diff", "x_q10_diff", "x_q50_diff", "x_q90_diff",
    "x_ratio", "x_pearson", "x_spearman", "x_share_g_lower", "x_s_over_g_entropy", "x_g_over_s_entropy",
    "x_entropy_diff", "x_entropy_corr", "x_content_diff", "x_function_diff", "x_name_diff",
    "x_diff_corr_entropy",
)


def cross_features(w: dict) -> np.ndarray:
    s, g = np.asarray(w["s_surprisal"]), np.asarray(w["g_surprisal"])
    se, ge, cls = np.asarray(w["s_entropy"]), np.asarray(w["g_entropy"]), np.asarray(w["class"])
    if len(s) < 5:
        return np.zeros(len(CROSS_FEATURES))
    d = s - g

    def m(x, mask):
        return float(x[mask].mean()) if mask.any() else 0.0
    q10, q50, q90 = np.quantile(d, [0.1, 0.5, 0.9])
    return np.array([
        s.mean(), g.mean(), d.mean(), d.std(), q10, q50, q90,
        s.mean() / max(g.mean(), 1e-3), np.corrcoef(s, g)[0, 1], spearmanr(s, g).statistic, (g < s).mean(),
        s.mean() / max(ge.mean(), 1e-3), g.mean() / max(se.mean(), 1e-3),
        (se - ge).mean(), np.corrcoef(se, ge)[0, 1],
        m(d, cls == CONTENT), m(d, cls == FUNCTION), m(d, cls == NAME),
        np.corrcoef(d, se - ge)[0, 1],
    ], dtype=np.float64)


def load_rows() -> list[dict]:
    rows = []
    for p in sorted(TABLES.glob("rows.*.jsonl")):
        rows += [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
    return rows


def blocks_of(r: dict) -> dict[str, np.ndarray]:
    text = r["style"] + r["lex"]
    return {"default": np.array(r["lmdist"] + r["lmword"] + text),
            "smollm_lm": np.array(r["lm"]),
            "gemma": np.array(r["g_lm"] + r["g_lmdist"] + r["g_lmword"]),
            "gemma_lmdist": np.array(r["g_lmdist"]),
            "text": np.array(text),
            "smollm_lmdist": np.array(r["lmdist"]),
            "gemma_lmword": np.array(r["g_lmword"]),
            "cross": (x := cross_features(r["words"])),
            "binoculars": x[[CROSS_FEATURES.index(n) for n in BINOCULARS]]}


# the few cross numbers closest to Binoculars' one statistic: each model's surprisal over the other's
# predictive entropy, their difference, and how the two agree word by word
BINOCULARS = ("x_s_over_g_entropy", "x_g_over_s_entropy", "x_mean_diff", "x_pearson")


VARIANTS = {
    "default (SmolLM2 + text)": ("default",),
    "default + gemma": ("default", "gemma"),
    "default + cross": ("default", "cross"),
    "default + gemma + cross": ("default", "gemma", "cross"),
    "default + gemma lmdist": ("default", "gemma_lmdist"),
    "gemma + text (no SmolLM2)": ("gemma", "text"),
    "gemma lmdist alone": ("gemma_lmdist",),
    "cross alone": ("cross",),
    "cross + text": ("cross", "text"),
    "default + binoculars (4 numbers)": ("default", "binoculars"),
    "binoculars alone": ("binoculars",),
    "SmolLM2 lmdist alone": ("smollm_lmdist",),
    "gemma lmword alone": ("gemma_lmword",),
    "default + gemma + cross, C = 0.05": ("default", "gemma", "cross", 0.05),
}


C = 0.3  # the train recipe's; a variant may name its own as its last element


def fit(X, y, c=C):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=3000)).fit(X, y)


def tpr_at(scores_h, scores_m, fpr=0.01) -> float:
    t = np.quantile(scores_h, 1 - fpr)
    return float((scores_m > t).mean())


def logo(X, y, gen, groups, k=5, c=C) -> dict:
    """Leave one generator out within one set, story-grouped folds."""
    folds = np.full(len(y), -1)
    for i, (_, te) in enumerate(GroupKFold(k).split(X, y, groups)):
        folds[te] = i
    out = {}
    for g in sorted(set(gen[y == 1])):
        sc = np.full(len(y), np.nan)
        for i in range(k):
            tr = (folds != i) & (gen != g)
            te = (folds == i) & ((y == 0) | (gen == g))
            sc[te] = fit(X[tr], y[tr], c).decision_function(X[te])
        m = ~np.isnan(sc)
        out[g] = {"auroc": float(roc_auc_score(y[m], sc[m])), "tpr_at_1pct": tpr_at(sc[m & (y == 0)], sc[m & (y == 1)]),
                  "n_human": int((m & (y == 0)).sum()), "n_machine": int((m & (y == 1)).sum()),
                  "scores": sc}
    return out


def pooled(d: dict, gen_name: str, y: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """One held-out score per row of a logo() result: a rewrite's from the fold that left its generator
    out; a human's, the mean over the generators compared ("all": every one)."""
    gens = [gen_name] if gen_name != "all" else list(d)
    sc = np.full(len(y), np.nan)
    keep = (y == 0) | np.isin(gen, gens)
    stack = np.array([d[g]["scores"] for g in gens])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row no compared generator scored: stays NaN
        sc[keep] = np.nanmean(stack[:, keep], axis=0)
    return sc


def paired_bootstrap(a: np.ndarray, b: np.ndarray, y: np.ndarray, groups: np.ndarray, n: int = 2000,
                     seed: int = 0) -> dict:
    """AUROC(b) - AUROC(a) on the same rows, and its 95% interval over stories drawn with replacement."""
    m = ~(np.isnan(a) | np.isnan(b))
    a, b, y, groups = a[m], b[m], y[m], groups[m]
    stories = np.unique(groups)
    rows = {g: np.flatnonzero(groups == g) for g in stories}
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        idx = np.concatenate([rows[g] for g in rng.choice(stories, len(stories))])
        if len(set(y[idx])) == 2:
            diffs.append(roc_auc_score(y[idx], b[idx]) - roc_auc_score(y[idx], a[idx]))
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return {"diff": float(roc_auc_score(y, b) - roc_auc_score(y, a)), "ci95": [float(lo), float(hi)]}


# (set, generator or "all", variant a, variant b): is b's gain over a more than chance?
COMPARISONS = [("l2r", "gpt-4o", "default (SmolLM2 + text)", "default + gemma"),
               ("l2r", "gpt-4o", "default (SmolLM2 + text)", "default + cross"),
               ("l2r", "all", "default (SmolLM2 + text)", "default + gemma + cross"),
               ("glimpse", "all", "default (SmolLM2 + text)", "default + cross"),
               ("glimpse", "gemini-1.5-pro", "default (SmolLM2 + text)", "default + cross"),
               ("glimpse", "gpt-4", "default (SmolLM2 + text)", "default + cross")]


def transfer(Xa, ya, Xb, yb, genb, c=C) -> dict:
    sc = fit(Xa, ya, c).decision_function(Xb)
    return {g: {"auroc": float(roc_auc_score(np.r_[np.zeros((yb == 0).sum()), np.ones((genb == g).sum())],
                                             np.r_[sc[yb == 0], sc[genb == g]]))}
            for g in sorted(set(genb[yb == 1]))}


def main(argv=None) -> None:
    rows = load_rows()
    by_set = defaultdict(list)
    for r in rows:
        by_set[r["set"]].append(r)
    counts = {s: {"human": sum(r["label"] == 0 for r in rs), "machine": sum(r["label"] == 1 for r in rs)}
              for s, rs in by_set.items()}
    results: dict = {"rows": counts, "variants": {}}
    arrays = {}
    for s, rs in by_set.items():
        b = [blocks_of(r) for r in rs]
        arrays[s] = (b, np.array([r["label"] for r in rs]), np.array([r["generator"] for r in rs]),
                     np.array([r["group"] or r["id"] for r in rs]))
    for name, spec in VARIANTS.items():
        kinds, c = (spec[:-1], spec[-1]) if isinstance(spec[-1], float) else (spec, C)
        res = {}
        mats = {s: np.nan_to_num(np.array([np.concatenate([bb[k] for k in kinds]) for bb in b]))
                for s, (b, *_) in arrays.items()}
        if "l2r" in arrays:
            _, y, gen, grp = arrays["l2r"]
            res["l2r_logo"] = logo(mats["l2r"], y, gen, grp, c=c)
        if "glimpse" in arrays:
            _, y, gen, grp = arrays["glimpse"]
            res["glimpse_logo"] = logo(mats["glimpse"], y, gen, grp, c=c)
        if "l2r" in arrays and "glimpse" in arrays:
            res["l2r_to_glimpse"] = transfer(mats["l2r"], arrays["l2r"][1], mats["glimpse"], arrays["glimpse"][1],
                                             arrays["glimpse"][2], c=c)
        results["variants"][name] = res
        print(name, {p: {g: round(v["auroc"], 3) for g, v in d.items()} for p, d in res.items()}, flush=True)
    results["paired"] = []
    for set_name, gen_name, va, vb in COMPARISONS:
        if set_name not in arrays:
            continue
        _, y, gen, grp = arrays[set_name]
        proto = f"{set_name}_logo"

        a, b = (pooled(results["variants"][v][proto], gen_name, y, gen) for v in (va, vb))
        results["paired"].append({"set": set_name, "generator": gen_name, "a": va, "b": vb,
                                  **paired_bootstrap(a, b, y, grp)})
        print(results["paired"][-1], flush=True)
    for v in results["variants"].values():
        for d in v.values():
            for g in d.values():
                g.pop("scores", None)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ablation.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "ablation.md").write_text(table(results))
    print(table(results))


def table(results: dict) -> str:
    lines = [f"rows: {json.dumps(results['rows'])}", ""]
    for proto in ("l2r_logo", "glimpse_logo", "l2r_to_glimpse"):
        gens = sorted({g for v in results["variants"].values() for g in v.get(proto, {})})
        if not gens:
            continue
        lines += [f"### {proto} (AUROC{'; TPR at 1% FPR in brackets' if proto != 'l2r_to_glimpse' else ''})", "",
                  "| variant | " + " | ".join(gens) + " | mean |", "|---" * (len(gens) + 2) + "|"]
        for name, v in results["variants"].items():
            d = v.get(proto, {})
            cells = [f"{d[g]['auroc']:.3f}" + (f" ({d[g]['tpr_at_1pct']:.2f})" if "tpr_at_1pct" in d[g] else "")
                     for g in gens]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean([d[g]['auroc'] for g in gens]):.3f} |")
        lines.append("")
    if results.get("paired"):
        lines += ["### b - a, AUROC, with its 95% interval over stories (paired bootstrap, 2,000 draws)", "",
                  "| set | generator | a | b | b - a | 95% interval |", "|---|---|---|---|---|---|"]
        lines += [f"| {p['set']} | {p['generator']} | {p['a']} | {p['b']} | {p['diff']:+.3f} | "
                  f"[{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}] |" for p in results["paired"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
