"""Training data: labelled examples, attacks and attacked copies, generated continuations, sentence labels."""
