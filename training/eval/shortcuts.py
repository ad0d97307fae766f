"""The shortcut audit: cues a detector could learn instead of style (length, final
punctuation, web-page junk words), and how far each cue alone would go.

Used by `fabscore train` (the model card's audit) and the data notebook, so both
report the same numbers for the same rows.
"""
from __future__ import annotations

import re

import numpy as np

from fabscore.training.eval.metrics import auroc
from fabscore.training.fit.heads import fit_head

FINAL_PUNCT = ".!?\"'"
PAGE_JUNK = re.compile(r"(share|subscribe|click here|advertisement|cookie|sign up)", re.I)
# A one-cue classifier within this AUROC of the model means the data lets that cue
# alone do most of the model's work: the model's number may measure the cue, not style.
NEAR_MODEL = 0.03
CUE_LABELS = {"length": "length-only classifier AUROC (log words of the full text)",
              "final_punct": "final-punctuation-only classifier AUROC",
              "page_junk": "page-junk-words-only classifier AUROC"}


def cue_values(texts: list[str]) -> dict[str, np.ndarray]:
    """Per text: log word count, ends in final punctuation (0/1), holds page-junk words (0/1)."""
    return {"length": np.log(np.array([max(len(t.split()), 1) for t in texts], dtype=float)),
            "final_punct": np.array([float(t.rstrip()[-1:] in FINAL_PUNCT) for t in texts]),
            "page_junk": np.array([float(bool(PAGE_JUNK.search(t))) for t in texts])}


def one_cue_aurocs(cues: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Held-out AUROC of a logistic classifier on each cue alone, under the training's grouped CV."""
    return {name: auroc(y, fit_head(x[:, None], y, groups, seed=seed, Cs=(1.0,), fprs=()).oof)
            for name, x in cues.items()}


def length_matched_auroc(y: np.ndarray, p: np.ndarray, words: np.ndarray, seed: int, bins: int = 10) -> float | None:
    """AUROC on a subset where human and machine articles have the same length distribution."""
    rng = np.random.default_rng(seed)
    edges = np.quantile(np.log(words), np.linspace(0, 1, bins + 1)[1:-1])
    b = np.digitize(np.log(words), edges)
    keep = []
    for k in range(bins):
        h, m = np.flatnonzero((b == k) & (y == 0)), np.flatnonzero((b == k) & (y == 1))
        n = min(len(h), len(m))
        keep += list(rng.choice(h, n, replace=False)) + list(rng.choice(m, n, replace=False))
    keep = np.array(keep, dtype=int)
    return auroc(y[keep], p[keep]) if len(keep) else None


def shortcut_audit(texts: list[str], y: np.ndarray, oof: np.ndarray, groups: np.ndarray, seed: int) -> dict:
    """What a one-cue classifier achieves beside the model, under the same grouped CV,
    and the model's AUROC where a cue cannot help."""
    cues = cue_values(texts)
    out = {CUE_LABELS[k]: v for k, v in one_cue_aurocs(cues, y, groups, seed).items()}
    punct = cues["final_punct"]
    out["model AUROC, held out"] = auroc(y, oof)
    out["model AUROC on length-matched human/machine subset"] = length_matched_auroc(y, oof, np.exp(cues["length"]),
                                                                                     seed)
    out["model AUROC on articles without final punctuation"] = auroc(y[punct == 0], oof[punct == 0])
    out["model AUROC on articles with final punctuation"] = auroc(y[punct == 1], oof[punct == 1])
    return out


def close_cues(shortcuts: dict, margin: float = NEAR_MODEL) -> list[tuple[str, float]]:
    """(cue, AUROC) of the one-cue classifiers that come within `margin` of the model's held-out AUROC."""
    model = shortcuts.get("model AUROC, held out")
    if model is None:
        return []
    return [(k, v) for k, v in shortcuts.items()
            if k in CUE_LABELS.values() and v is not None and v >= model - margin]
