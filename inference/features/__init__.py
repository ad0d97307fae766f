"""Featurizers: every number a head sees comes from here, for training and scoring alike."""

KINDS = ("embed", "lm", "lmdist", "style")  # feature kinds a model can use (here so --help need not import torch)
LM_KINDS = ("lm", "lmdist")  # kinds made from one SmolLM2 pass (lmdist: the shape of lm's per-token statistics)


def uses_lm(kinds) -> bool:
    """Whether featurizing `kinds` runs SmolLM2."""
    return any(k in LM_KINDS for k in kinds)
