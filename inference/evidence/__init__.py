"""Evidence mode: is each sentence backed by what trusted reference articles say?

`fabscore index REF... --out DIR` builds an evidence index (index.py); scoring
with `--evidence` retrieves each sentence's nearest evidence sentences, extracts
its claims (claims.py), and a calibrated consistency head (checker.py) over pair
features (features.py) gives `support`; annotate.py adds the fields to a record.
"""
from __future__ import annotations

from .annotate import EvidenceCheck, annotate, blank, resolve_evidence
from .checker import Checker, load_checker
from .index import EvidenceError, EvidenceIndex, build, build_from_texts, load

__all__ = ["EvidenceCheck", "annotate", "blank", "resolve_evidence", "Checker", "load_checker", "EvidenceError",
           "EvidenceIndex", "build", "build_from_texts", "load"]
