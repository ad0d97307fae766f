"""Featurizers: every number a head sees comes from here, for training and scoring alike."""
