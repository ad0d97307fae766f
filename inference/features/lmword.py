"""SmolLM2's per-token statistics pooled by the kind of word a token starts (feature kind `lmword`).

A real article reworded by a chat model keeps its facts, order and names and changes the
wording, and it changes it in one direction: the grammatical scaffolding (function words)
becomes more predictable to a language model, while the content words become rarer and longer.
Measured on pairs of a human text and its rewrite (experiments/rewrites, paired.py): the
model's entropy at function-word positions falls by 0.6-1.3 human standard deviations for
gpt-4o, gpt-3.5, Llama-3 and Gemini rewrites, in 80-90% of pairs; averages over all tokens
(`lm`, `lmdist`) mix the two movements and see a quarter of that.

So the same per-token statistics (the one SmolLM2 pass of `lm`/`lmdist`, no new pass) are pooled
separately over content words, function words (scikit-learn's English stop words), names
(capitalized non-stop words), and the later pieces of split words, plus how much the sentences
differ from each other. Which token starts which word comes from re-tokenizing the normalized
text with the same tokenizer, so features made from a feature cache equal those made afresh.
"""
from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

STOP = frozenset(ENGLISH_STOP_WORDS)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:[.,]\d+)*")
CONTENT, FUNCTION, NAME, NUMBER, PIECE, OTHER = 0, 1, 2, 3, 4, -1

PER_CLASS = ("top1", "top5", "mean_logrank", "mean_logp", "gap_lpmax", "mean_z", "mean_entropy")
LMWORD_FEATURES = (
    *(f"lmw_{c}_{s}" for c in ("content", "function") for s in PER_CLASS),
    "lmw_content_share", "lmw_name_share", "lmw_top1_gap", "lmw_logrank_gap",
    "lmw_subword_mean_logp", "lmw_subword_top1", "lmw_name_top5", "lmw_name_mean_logp",
    "lmw_sent_std_logp", "lmw_sent_std_top1",
)


def token_word_classes(norm: str, offsets) -> np.ndarray:
    """Per token (by its character offsets into norm): CONTENT, FUNCTION, NAME or NUMBER for the
    token holding a word's first character, PIECE for a word's later pieces, OTHER for
    punctuation and spaces."""
    cls = np.full(len(offsets), OTHER, dtype=np.int8)
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(norm)]
    if not words:
        return cls
    starts = np.array([w[0] for w in words])
    for k, (b, e) in enumerate(offsets):
        while b < e and norm[b] == " ":
            b += 1
        if b >= e:
            continue
        i = int(np.searchsorted(starts, b, side="right")) - 1
        if i < 0 or b >= words[i][1]:
            continue
        start, _, word = words[i]
        if b != start:
            cls[k] = PIECE
        elif word[0].isdigit():
            cls[k] = NUMBER
        elif word.lower() in STOP:
            cls[k] = FUNCTION
        elif word[0].isupper():
            cls[k] = NAME
        else:
            cls[k] = CONTENT
    return cls


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else 0.0


def aggregate(stats: np.ndarray, cls: np.ndarray, owner: np.ndarray | None = None,
              idx: np.ndarray | None = None) -> np.ndarray:
    """LMWORD_FEATURES over the tokens selected by idx (all when None). stats: the stored
    per-token statistics (rows in lm.TOKEN_STATS order), cls: token_word_classes, owner: each
    token's sentence (for the spread across sentences)."""
    if idx is not None:
        stats, cls = stats[:, idx], cls[idx]
        owner = None if owner is None else owner[idx]
    logp, ent, rank, mu, var, lpmax = (stats[i].astype(np.float64) for i in range(6))
    if logp.size == 0:
        return np.zeros(len(LMWORD_FEATURES))
    z = (logp - mu) / np.sqrt(np.maximum(var, 1e-6))
    lr = np.log(rank)
    out = []
    for code in (CONTENT, FUNCTION):
        m = cls == code
        out += [_mean(rank[m] == 1), _mean(rank[m] <= 5), _mean(lr[m]), _mean(logp[m]),
                _mean(logp[m] - lpmax[m]), _mean(z[m]), _mean(ent[m])]
    c, f, names, pieces = cls == CONTENT, cls == FUNCTION, cls == NAME, cls == PIECE
    n_words = max(int(np.isin(cls, (CONTENT, FUNCTION, NAME, NUMBER)).sum()), 1)
    out += [c.sum() / n_words, names.sum() / n_words,
            _mean(rank[c] == 1) - _mean(rank[f] == 1), _mean(lr[c]) - _mean(lr[f]),
            _mean(logp[pieces]), _mean(rank[pieces] == 1), _mean(rank[names] <= 5), _mean(logp[names])]
    spread = [0.0, 0.0]
    if owner is not None:
        sentences = [j for j in np.unique(owner) if j >= 0 and (owner == j).sum() >= 3]
        if len(sentences) > 1:
            spread = [float(np.std([logp[owner == j].mean() for j in sentences])),
                      float(np.std([(rank[owner == j] == 1).mean() for j in sentences]))]
    return np.array(out + spread, dtype=np.float64)
