"""The models: packaged backbones, the linear heads, model directories (and the shipped ones)."""
