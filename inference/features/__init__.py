"""Featurizers: every number a head sees comes from here, for training and scoring alike."""

# Feature kinds a model can use, in the order their columns are stacked (here so --help need not import torch).
KINDS = ("embed", "lm", "lmdist", "style", "lmword", "lex")
# Kinds made from one SmolLM2 pass: lm's aggregates, and two other summaries of the same per-token
# statistics (lmdist: their distribution; lmword: pooled by the kind of word each token starts).
LM_KINDS = ("lm", "lmdist", "lmword")
FROM_TOKEN_STATS = ("lmdist", "lmword")  # made from lm's stored per-token statistics: no pass of their own


def uses_lm(kinds) -> bool:
    """Whether featurizing `kinds` runs SmolLM2."""
    return any(k in LM_KINDS for k in kinds)
