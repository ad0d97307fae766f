"""Token statistics from SmolLM2: how predictable each token was in its context.

One forward pass per window yields, for every token, its log-probability, the
entropy of the predictive distribution, its rank, and the mean and variance of
log p under the model's own distribution (the analytic Fast-DetectGPT terms).
Aggregates are per-token means and quantiles, never sums, so they do not grow
with length. The per-token statistics themselves are kept beside the aggregates
(`lm_token_stats`), so training can study other aggregates without a new pass.
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
    # Robust to edits: a typo makes a handful of tokens very unlikely and drags every
    # mean with it, while order statistics, trimmed means and top-k shares move little; the
    # log-probability of the model's own top choice (lpmax) describes the context, not the token.
    "lm_q25_logp", "lm_q75_logp", "lm_trim_logp", "lm_median_logrank", "lm_top3",
    "lm_median_z", "lm_trim_z", "lm_mean_lpmax", "lm_q50_lpmax", "lm_q50_entropy",
)
TOKEN_STATS = ("logp", "entropy", "rank", "mu", "var", "lpmax")  # per token, in this order when stored


ROW_BLOCK = 32  # rows of logits per block: two reused 32 x 49k float buffers


def _vocab_statistics(logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """log p(target), rank, the mean and variance of log p under the model's own
    distribution, and log p of the model's top choice (lpmax), for each row of logits.

    Works in row blocks inside two reused buffers, with one exp per logit and the
    rank counted as a float sum (summing a bool tensor is 12x slower): 14 ms per
    256-token window where the naive version took 167, and the centred variance
    keeps every value within 3e-6 of a float64 reference."""
    n, vocab = logits.shape
    out = torch.empty(5, n)  # logp, rank, mu, var, lpmax
    lg_buf = torch.empty(min(ROW_BLOCK, n), vocab)
    p_buf = torch.empty_like(lg_buf)
    for b in range(0, n, ROW_BLOCK):
        rows = slice(b, min(b + ROW_BLOCK, n))
        lg, p = lg_buf[: rows.stop - b], p_buf[: rows.stop - b]
        lg.copy_(logits[rows])
        lt = lg.gather(1, target[rows, None])
        out[1, rows] = torch.gt(lg, lt, out=p).sum(-1) + 1  # exact: counts below 2**24
        lg.sub_(lg.amax(-1, keepdim=True))
        torch.exp(lg, out=p)
        total = p.sum(-1, keepdim=True)
        out[4, rows] = -total.log()[:, 0]  # the top logit is 0 after the shift: log p_max = -log sum exp
        lg.sub_(total.log())  # log p
        p.div_(total)
        mu = torch.linalg.vecdot(p, lg)
        out[0, rows] = lg.gather(1, target[rows, None])[:, 0]
        out[2, rows] = mu
        lg.sub_(mu[:, None]).square_()
        out[3, rows] = torch.linalg.vecdot(p, lg)
    return {"logp": out[0], "rank": out[1], "mu": out[2], "var": out[3], "lpmax": out[4]}


def token_statistics(ids: list[int], model) -> dict[str, np.ndarray]:
    """Per-token statistics for tokens 1..n-1 of `ids` (token 0 has no context)."""
    n = len(ids)
    out = {k: np.zeros(max(n - 1, 0), dtype=np.float64) for k in TOKEN_STATS}
    start = 0
    while n > 1:
        stop = min(start + WINDOW, n)
        window = torch.tensor([ids[start:stop]])
        first = 0 if start == 0 else CONTEXT - 1  # skip tokens already scored by the previous window
        with torch.inference_mode():
            logits = model(window.to(model.device)).logits[0, first:-1].cpu()  # statistics on the CPU
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
    ent, rank, mu, var, lpmax = sel["entropy"], sel["rank"], sel["mu"], sel["var"], sel["lpmax"]
    z = (logp - mu) / np.sqrt(np.maximum(var, 1e-6))
    mean_ent = float(ent.mean())
    q10, q25, q50, q75 = np.quantile(logp, [0.1, 0.25, 0.5, 0.75])
    cut = len(logp) // 10  # trimmed means drop this many tokens (never all of them)
    return np.array([
        logp.mean(), logp.std(), q10, q50,
        mean_ent, ent.std(), np.log(rank).mean(), (rank == 1).mean(), (rank <= 10).mean(),
        (logp - mu).mean() / np.sqrt(max(var.mean(), 1e-6)),
        -logp.mean() / max(mean_ent, 1e-3), z.mean(), z.std(),
        q25, q75, np.sort(logp)[cut:].mean(), np.median(np.log(rank)), (rank <= 3).mean(),
        np.median(z), np.sort(z)[cut:len(z) - cut].mean(), lpmax.mean(), np.median(lpmax), np.median(ent),
    ], dtype=np.float64)
