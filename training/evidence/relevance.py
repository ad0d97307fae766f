"""The relevance cut by pool size: how similar a sentence must be to count as evidence at all.

The nearest unrelated sentence comes closer the more sentences a pool holds, so the cut is a
line in ln(pool sentences), fitted on training-split pools of whole articles.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fabscore.evidence.checker import RelevanceCut
from fabscore.training.evidence.pairs import Sources, is_test, read

RELEVANCE_QUANTILE = 0.95  # share of unrelated sentences that must come out `no_evidence`


def relevance_curve(probes: np.ndarray, pool: np.ndarray, pool_article: np.ndarray, probe_article: np.ndarray,
                    rng, quantile: float = RELEVANCE_QUANTILE, min_size: int = 16, draws: int = 5):
    """The relevance cut as a function of pool size, measured: unrelated claim sentences
    (`probes`) searched in pools of whole articles drawn at random from `pool`, sizes from
    min_size sentences to all of them (doubling), `draws` pools per size; at each size the
    `quantile` of the probes' best cosine. A probe's own article is never in its pool.
    Returns (RelevanceCut fitted by least squares in ln(size), the measured table)."""
    sims = probes.astype(np.float32) @ pool.astype(np.float32).T
    sims[probe_article[:, None] == pool_article[None, :]] = -np.inf
    articles, per_article = np.unique(pool_article, return_counts=True)
    sizes, table = [], []
    size = min_size
    while True:
        size = min(size, len(pool))
        got = []
        for _ in range(draws if size < len(pool) else 1):
            order = rng.permutation(len(articles))
            take = articles[order[: int(np.searchsorted(np.cumsum(per_article[order]), size)) + 1]]
            cols = np.isin(pool_article, take)
            best = sims[:, cols].max(axis=1)
            best = best[np.isfinite(best)]
            got.append((int(cols.sum()), float(np.quantile(best, quantile))))
        n, cut = float(np.mean([g[0] for g in got])), float(np.mean([g[1] for g in got]))
        sizes.append(n)
        spread = round(float(np.ptp([g[1] for g in got])), 4)
        table.append({"pool_sentences": round(n), "cut": round(cut, 4), "spread": spread})
        if size >= len(pool):
            break
        size *= 2
    x = np.log(np.array(sizes))
    y = np.array([t["cut"] for t in table])
    slope, intercept = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, float(y[0]))
    fit = RelevanceCut(round(float(intercept), 4), round(float(slope), 4), int(round(sizes[0])), int(round(sizes[-1])))
    for t in table:
        t["fitted"] = round(fit(t["pool_sentences"]), 4)
    return fit, table


def relevance_pool(src: Sources, test_share: float, exclude_outside: set[str],
                   data_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """(texts, story ids) of the articles the relevance curve's pools are drawn from: every
    training-split human news article (llmfake's, with or without rewrites, and usnews_mar2023's,
    120-1,500 words), and the outside data sets' training-split articles that insertions do not
    come from. Held-out stories are never used."""
    held = {r["id"] for r in src.humans if is_test(r["id"], test_share)}
    rows = [r for r in read("llmfake.clean.jsonl", data_dir) if r["label"] == "human"]
    rows = [r for r in rows if 120 <= len(r["text"].split()) <= 1500]
    rows += [r for r in src.humans if not r["id"].startswith("llmfake")]
    rows = [r for r in {r["id"]: r for r in rows}.values() if r["id"] not in held and not is_test(r["id"], test_share)]
    rows += [r for r in src.outside if not is_test(r["id"], test_share) and r["id"] not in exclude_outside]
    return [r["text"] for r in rows], [r["id"] for r in rows]


def relevance_statistics(related_sims: np.ndarray, unrelated_sims: np.ndarray, cut: float) -> dict:
    """Best cosine of related sentences (restated rewrites of a pooled story) vs unrelated ones
    (claim sentences of other stories), and the share of the related ones below `cut`."""
    def q(a: np.ndarray, p: float) -> float | None:
        return float(np.quantile(a, p)) if len(a) else None

    return {"related_restated": {f"q{int(100 * p)}": q(related_sims, p) for p in (0.01, 0.05, 0.1, 0.5)},
            "unrelated": {f"q{int(100 * p)}": q(unrelated_sims, p) for p in (0.5, 0.9, 0.95, 0.99)},
            "n_related": int(len(related_sims)), "n_unrelated": int(len(unrelated_sims)), "cut": cut,
            "related_restated_below_cut": float((related_sims < cut).mean()) if len(related_sims) else None,
            "unrelated_above_cut": float((unrelated_sims >= cut).mean()) if len(unrelated_sims) else None}
