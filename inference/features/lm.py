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


ROW_BLOCK = 32  # rows of logits processed together: 32 x 49k floats stay in cache


def _vocab_statistics(logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """log p(target), rank, and the mean and variance of log p under the model's own
    distribution, for each row of logits.

    Row blocks and in-place updates touch each vocabulary-sized row a few times
    instead of a dozen: 3x faster than the naive version and closer to a float64
    reference (centred variance)."""
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("logp", "rank", "mu", "var")}
    for b in range(0, logits.shape[0], ROW_BLOCK):
        lg = logits[b : b + ROW_BLOCK].float()  # a copy, so the in-place updates below are safe
        t = target[b : b + ROW_BLOCK, None]
        lt = lg.gather(1, t)
        parts["rank"].append((lg > lt).sum(-1) + 1)
        lse = torch.logsumexp(lg, -1, keepdim=True)
        parts["logp"].append((lt - lse)[:, 0])
        lg -= lse  # log p
        p = lg.exp()
        mu = (p * lg).sum(-1, keepdim=True)
        parts["mu"].append(mu[:, 0])
        lg -= mu
        parts["var"].append(p.mul_(lg.square_()).sum(-1))
    return {k: torch.cat(v) for k, v in parts.items()}


def token_statistics(ids: list[int], model) -> dict[str, np.ndarray]:
    """Per-token statistics for tokens 1..n-1 of `ids` (token 0 has no context)."""
    n = len(ids)
    out = {k: np.zeros(max(n - 1, 0), dtype=np.float64) for k in ("logp", "entropy", "rank", "mu", "var")}
    start = 0
    while n > 1:
        stop = min(start + WINDOW, n)
        window = torch.tensor([ids[start:stop]])
        first = 0 if start == 0 else CONTEXT - 1  # skip tokens already scored by the previous window
        with torch.inference_mode():
            logits = model(window).logits[0, first:-1]
            st = _vocab_statistics(logits, window[0, first + 1 :])
        st["entropy"] = -st["mu"]
        sl = slice(start + first, stop - 1)  # positions of predicted tokens minus one
        for key in out:
            out[key][sl] = st[key].double().numpy()
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
