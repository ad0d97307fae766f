"""Features of a (sentence, retrieved evidence) pair, for the consistency head.

One function computes them for training (fabscore.training.evidence) and for
scoring, so the head always sees features made the same way. They say how close
the nearest evidence is, whether the sentence's checkable claims (names,
numbers, dates, quotations) are found in it, how much of its content is new,
and whether it negates what the evidence says or the other way round.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from fabscore.evidence.claims import Claim, is_supported, key_tokens, token_set

FEATURES = ("cos_best", "cos_mean_top", "claim_share", "entity_share", "number_share", "date_share",
            "quote_share", "n_unsupported_claims", "novel_share", "novel_share_best", "negation_mismatch",
            "log_n_claims")
FEATURES_VERSION = "1"
TOP_K = 5  # evidence sentences retrieved per sentence: the passage its claims are checked against
_NEGATION = re.compile(r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without)\b|n't\b|n[\"']t\b", re.I)


def negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def content_tokens(text: str) -> set[str]:
    return {t for t in key_tokens(text) if len(t) > 2 or t.isdigit()}


def pair_features(sentence: str, claims: Sequence[Claim], evidence: Sequence[str],
                  sims: np.ndarray) -> tuple[np.ndarray, list[bool], list[bool]]:
    """(feature vector in FEATURES order, each claim found in the retrieved evidence, each
    claim found in the best evidence sentence alone) for one sentence against its retrieved
    evidence sentences (best first) and their cosines."""
    ev_tokens = token_set(evidence)
    supported = [is_supported(c, ev_tokens) for c in claims]
    best_tokens = token_set(evidence[:1])
    in_best = [ok and is_supported(c, best_tokens) for c, ok in zip(claims, supported)]

    def share(kind: str | None) -> float:
        got = [s for c, s in zip(claims, supported) if kind is None or c.kind == kind]
        return float(np.mean(got)) if got else 1.0

    words = content_tokens(sentence)
    best_words = content_tokens(evidence[0]) if len(evidence) else set()
    novel = len(words - ev_tokens) / len(words) if words else 0.0
    novel_best = len(words - best_words) / len(words) if words else 0.0
    mismatch = float(bool(len(evidence)) and negated(sentence) != negated(evidence[0]))
    sims = np.asarray(sims, dtype=np.float64)
    x = [float(sims[0]) if len(sims) else 0.0, float(sims.mean()) if len(sims) else 0.0, share(None),
         share("entity"), share("number"), share("date"), share("quote"),
         float(len(supported) - sum(supported)), novel, novel_best, mismatch, float(np.log1p(len(claims)))]
    return np.array(x), supported, in_best
