"""A few style statistics of the normalized text.

Deliberately absent: length, final punctuation, whitespace and quote style,
which separate the training sets for reasons unrelated to who wrote the text.
"""
from __future__ import annotations

import re

import numpy as np

STYLE_FEATURES = (
    "style_mean_sentence_words", "style_std_sentence_words", "style_type_token_ratio",
    "style_mean_word_len", "style_comma_per_word", "style_digit_frac", "style_capitalized_frac",
    "style_quote_per_word",
)
SENTENCE_STYLE_FEATURES = ("sent_words_log", "sent_has_digit", "sent_has_quote", "sent_capitalized_frac")

_WORD = re.compile(r"[A-Za-z0-9']+")


def _capitalized_frac(words: list[str]) -> float:
    inner = words[1:]
    return sum(w[:1].isupper() for w in inner) / len(inner) if inner else 0.0


def article_style(sentences: list[str]) -> np.ndarray:
    lens = np.array([len(s.split()) for s in sentences] or [0], dtype=float)
    words = [w for s in sentences for w in _WORD.findall(s)]
    first = [w.lower() for w in words[:200]]
    text = " ".join(sentences)
    n = max(len(words), 1)
    return np.array([
        lens.mean(), lens.std(), len(set(first)) / max(len(first), 1),
        np.mean([len(w) for w in words]) if words else 0.0,
        text.count(",") / n, sum(c.isdigit() for c in text) / max(len(text), 1),
        float(np.mean([_capitalized_frac(_WORD.findall(s)) for s in sentences])) if sentences else 0.0,
        text.count('"') / n,
    ])


def sentence_style(sentence: str) -> np.ndarray:
    words = _WORD.findall(sentence)
    return np.array([np.log1p(len(words)), float(any(c.isdigit() for c in sentence)),
                     float('"' in sentence), _capitalized_frac(words)])
