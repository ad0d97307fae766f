"""Featurizers: every number a head sees comes from here, for training and scoring alike."""

KINDS = ("embed", "lm", "style")  # feature kinds a model can use (here so --help need not import torch)
