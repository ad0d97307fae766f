"""Evidence mode: is each sentence backed by what trusted reference articles say?

`fabscore index REF... --out DIR` builds an evidence index (index.py); scoring
with `--evidence` retrieves each sentence's nearest evidence sentences, extracts
its claims (claims.py), and a calibrated consistency head (checker.py) over pair
features (features.py) gives `support`; the verdict rules (verdicts.py) give each
sentence a status and each claim a verdict; annotate.py adds the fields to a record.
Names are imported lazily, so registering the `index` command costs nothing.
"""
from __future__ import annotations

from importlib import import_module

_LAZY = {"EvidenceCheck": "annotate", "annotate": "annotate", "blank": "annotate", "resolve_evidence": "annotate",
         "Checker": "checker", "load_checker": "checker", "EvidenceError": "table", "EvidenceIndex": "index",
         "build": "index", "build_from_texts": "index", "load": "index", "STATUSES": "verdicts", "VERDICTS": "verdicts"}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
