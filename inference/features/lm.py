"""Token statistics from SmolLM2: how predictable each token was in its context.

One forward pass per window yields, for every token, its log-probability, the
entropy of the predictive distribution, its rank, and the mean and variance of
log p under the model's own distribution (the analytic Fast-DetectGPT terms).
Aggregates are per-token means, never sums, so they do not grow with length.
"""
from __future__ import annotations

import numpy as np
import torch

WINDOW = 256  # tokens per forward pass
CONTEXT = 32  # tokens of overlap that give a window's first scored token context

LM_FEATURES = (
    "lm_mean_logp", "lm_std_logp", "lm_q10_logp", "lm_q50_logp",
    "lm_mean_entropy", "lm_std_entropy", "lm_mean_logrank", "lm_top1", "lm_top10",
    "lm_fastdetect", "lm_logppl_over_entropy", "lm_mean_z", "lm_std_z",
)


def token_statistics(ids: list[int], model) -> dict[str, np.ndarray]:
    """Per-token statistics for tokens 1..n-1 of `ids` (token 0 has no context)."""
    n = len(ids)
    out = {k: np.zeros(max(n - 1, 0), dtype=np.float64) for k in ("logp", "entropy", "rank", "mu", "var")}
    start = 0
    while n > 1:
        stop = min(start + WINDOW, n)
        window = torch.tensor([ids[start:stop]])
        with torch.inference_mode():
            logits = model(window).logits[0, :-1].float()
        logp_all = torch.log_softmax(logits, dim=-1)
        p_all = logp_all.exp()
        target = window[0, 1:]
        logp = logp_all.gather(1, target[:, None])[:, 0]
        mu = (p_all * logp_all).sum(-1)
        var = (p_all * logp_all.square()).sum(-1) - mu.square()
        rank = (logits > logits.gather(1, target[:, None])).sum(-1) + 1
        first = 0 if start == 0 else CONTEXT - 1  # skip tokens already scored by the previous window
        sl = slice(start + first, stop - 1)  # positions of predicted tokens minus one
        for key, val in (("logp", logp), ("entropy", -mu), ("rank", rank), ("mu", mu), ("var", var)):
            out[key][sl] = val[first:].double().numpy()
        if stop == n:
            break
        start = stop - CONTEXT
    return out


def aggregate(stats: dict[str, np.ndarray], idx: np.ndarray | slice | None = None) -> np.ndarray:
    """LM_FEATURES over the tokens selected by idx (all when None)."""
    sel = {k: (v if idx is None else v[idx]) for k, v in stats.items()}
    logp = sel["logp"]
    if logp.size == 0:
        return np.zeros(len(LM_FEATURES))
    ent, rank, mu, var = sel["entropy"], sel["rank"], sel["mu"], sel["var"]
    z = (logp - mu) / np.sqrt(np.maximum(var, 1e-6))
    mean_ent = float(ent.mean())
    return np.array([
        logp.mean(), logp.std(), np.quantile(logp, 0.1), np.median(logp),
        mean_ent, ent.std(), np.log(rank).mean(), (rank == 1).mean(), (rank <= 10).mean(),
        (logp - mu).mean() / np.sqrt(max(var.mean(), 1e-6)),
        -logp.mean() / max(mean_ent, 1e-3), z.mean(), z.std(),
    ], dtype=np.float64)
