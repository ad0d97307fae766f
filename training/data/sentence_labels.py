"""Sentence labels learned from data: which sentences of a machine article are new.

A machine rewrite points to its human source by `pair_id`. A machine sentence
whose content words mostly appear in the source, or whose MiniLM embedding is
close to a source sentence, restates the source; one with neither is inserted.
Labels: 1 inserted (machine content with no basis in the source), 0 human,
-1 unknown (restated, or between the two cut-offs): left out of training.
"""
from __future__ import annotations

import re

import numpy as np

from fabscore.text.language import STOPWORDS
from fabscore.training.data.examples import Example

_WORD = re.compile(r"[a-z0-9]+")
NOVEL_ONLY = ("open_ended", "arbitrary", "hallucination")  # methods that write from a title alone
INSERT_MAX_OVERLAP, INSERT_MAX_COS = 0.5, 0.6
MATCH_MIN_OVERLAP, MATCH_MIN_COS = 0.7, 0.8


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOPWORDS}


def align(sentences: list[str], sent_emb: np.ndarray, source_text: str, source_emb: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, overlap, max cosine) of machine sentences against their source."""
    src_words = content_words(source_text)
    overlap = np.array([len(w & src_words) / len(w) if (w := content_words(s)) else 1.0 for s in sentences])
    cos = (sent_emb @ source_emb.T).max(axis=1) if len(source_emb) and len(sent_emb) else np.zeros(len(sentences))
    labels = np.full(len(sentences), -1)
    labels[(overlap < INSERT_MAX_OVERLAP) & (cos < INSERT_MAX_COS)] = 1
    labels[(overlap >= MATCH_MIN_OVERLAP) | (cos >= MATCH_MIN_COS)] = -1
    return labels, overlap, cos


def label_example(ex: Example, sentences: list[str], sent_emb: np.ndarray,
                  sources: dict[str, tuple[str, np.ndarray]]) -> np.ndarray:
    """Labels for one article's sentences; `sources` maps a human id to (text, sentence embeddings)."""
    if ex.label == 0:
        return np.zeros(len(sentences), dtype=int)
    src = sources.get(ex.group) if ex.group != ex.id else None
    if src is None:
        novel = any(m in ex.method for m in NOVEL_ONLY)
        return np.full(len(sentences), 1 if novel else -1)
    return align(sentences, sent_emb, src[0], src[1])[0]
