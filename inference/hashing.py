"""The one SHA-256 helper for files (model directories, backbone weights, outputs).

No torch import here: the model-directory check and the command line use it
before (or without) loading any backbone.
"""
from __future__ import annotations

import hashlib
import os


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (a GGUF is 100 MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
