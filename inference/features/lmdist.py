"""The shape of SmolLM2's per-token statistics: histograms, not means (feature kind `lmdist`).

The `lm` aggregates are means and quantiles of each token's log-probability, rank and z-score.
A few edits (typos, split words, swapped synonyms) give a handful of tokens extreme values and
drag every mean with them, so a machine text edited a little reads as human to them. Here the
same per-token statistics (one SmolLM2 pass, `lm.token_statistics`) are described by the share of
tokens in fixed bins of log p, rank and z-score, plus means over the tokens left after masking
the extreme-rank ones (rank > 1,000: a broken word's pieces) and the token after each. An edit
moves a few tokens from one bin to another; the rest of the histogram, which carries the
"every token was the model's likely choice" signature of machine text, stays put.

Measured (experiments/generalization_ablation.py, docs/generalization.md): with the style
features and attacked copies in training, these replace the `lm` aggregates in the default
model: higher on unseen PolitiFact++ and under every attack.
"""
from __future__ import annotations

import numpy as np

LOGP_EDGES = (-14.0, -11.0, -9.0, -7.0, -5.5, -4.5, -3.5, -2.5, -1.5, -0.7, -0.2)  # 12 bins with -inf/+inf
RANK_EDGES = (2, 4, 11, 31, 101, 1001)  # 7 bins: ranks 1, 2-3, 4-10, 11-30, 31-100, 101-1000, > 1000
Z_EDGES = (-4.0, -2.5, -1.5, -0.75, 0.0, 0.5, 1.0)  # 8 bins
MASK_RANK = 1000  # tokens ranked beyond this (and the token after each) are left out of the masked means

LMDIST_FEATURES = (
    *(f"lmd_logp_bin{i}" for i in range(len(LOGP_EDGES) + 1)),
    *(f"lmd_rank_bin{i}" for i in range(len(RANK_EDGES) + 1)),
    *(f"lmd_z_bin{i}" for i in range(len(Z_EDGES) + 1)),
    "lmd_extreme_rank_share", "lmd_masked_mean_logp", "lmd_masked_median_logp", "lmd_masked_mean_z",
    "lmd_masked_top1", "lmd_masked_mean_entropy", "lmd_masked_fastdetect",
)


def _shares(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Share of values per bin: (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def aggregate(stats: dict[str, np.ndarray], idx: np.ndarray | slice | None = None) -> np.ndarray:
    """LMDIST_FEATURES over the tokens selected by idx (all when None). The masking looks at the
    selected tokens in order, so a sentence's first token is never masked for its predecessor."""
    sel = {k: (v if idx is None else v[idx]) for k, v in stats.items()}
    logp = sel["logp"]
    if logp.size == 0:
        return np.zeros(len(LMDIST_FEATURES))
    rank, ent, mu, var = sel["rank"], sel["entropy"], sel["mu"], np.maximum(sel["var"], 1e-6)
    z = (logp - mu) / np.sqrt(var)
    extreme = rank > MASK_RANK
    keep = ~(extreme | np.r_[False, extreme[:-1]])
    if keep.sum() < 5:  # almost nothing left: use every token rather than a handful
        keep = np.ones_like(keep)
    kl, kmu = logp[keep], mu[keep]
    return np.concatenate([
        _shares(logp, LOGP_EDGES), _shares(rank, RANK_EDGES), _shares(z, Z_EDGES),
        [extreme.mean(), kl.mean(), np.median(kl), z[keep].mean(), (rank[keep] == 1).mean(), ent[keep].mean(),
         (kl - kmu).mean() / np.sqrt(var[keep].mean())],
    ]).astype(np.float64)
