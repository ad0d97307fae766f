"""Fitting: the heads, the feature cache that feeds them, and fine-tuning the encoder."""
