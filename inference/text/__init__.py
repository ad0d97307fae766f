"""Text as the models see it: normalization, sentence splitting and chunking, language checks."""
