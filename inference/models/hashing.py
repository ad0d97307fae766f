"""The one SHA-256 helper for files (model directories, backbone weights, outputs).

No torch import here: the model-directory check and the command line use it
before (or without) loading any backbone.
"""
from __future__ import annotations

import hashlib
import os


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks (a GGUF is 100 MB)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
