"""fabscore: scores news articles, and every sentence in them, for likely machine-written text.

This package (the folder `inference/` in the source tree) reads, normalizes, splits and
featurizes text and scores it with a saved model directory. It never imports
`fabscore.training` (the folder `training/`), which fits and evaluates models and needs
the `fabscore[train]` extra.

    >>> from fabscore import load_detector
    >>> det = load_detector()                # the shipped default model ("fast": the quicker one)
    >>> det.score(["An article ..."], fpr=0.05)   # one record per text; a str is one text
    >>> det.predict_proba(texts)             # (n, 2) [P(human), P(machine)], NaN rows where it abstains
    >>> det(texts)                           # (n,) P(machine)

Names are imported lazily, so `fabscore --help` does not pay for torch.
"""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fabscore")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = {"load_detector": "api", "Detector": "detector", "ArticleScore": "detector",
         "SentenceScore": "detector"}
__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
