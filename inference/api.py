"""`fabscore.load_detector`: a Detector that can also score on worker processes.

The detector itself never imports an engine (the engines' workers build detectors); this is
where the two meet, so `score(workers=...)` runs through the command line's own pool.
"""
from __future__ import annotations

from pathlib import Path

from fabscore.detector import Detector
from fabscore.engines.local import score_texts
from fabscore.models import directory as md


def load_detector(path: str | Path | None = None, fpr: float | None = None, **kwargs) -> Detector:
    """The detector of a model directory (None: the default model shipped in the package;
    'fast': the shipped fast one). kwargs go to Detector (device, workers, featurizer, ...);
    workers='auto' or N scores every call on that many worker processes, as
    `fabscore score --workers` does."""
    return Detector(md.load(path), fpr=fpr, parallel=score_texts, **kwargs)
