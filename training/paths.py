"""Where a source checkout keeps its seeds, and where the labelled data is found.

Training runs from a clone (an editable install): the seeds are in the repository, and the
shared data sits beside it unless FABSCORE_DATA or an explicit path says otherwise.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # training/ is a top-level folder of the checkout
SEEDS = REPO / "seeds"
DATA_ENV = "FABSCORE_DATA"


def data_dir(path: str | Path | None = None) -> Path:
    """The shared data folder: `path`, else $FABSCORE_DATA, else ../shared/data beside the repository."""
    return Path(path or os.environ.get(DATA_ENV) or REPO.parent / "shared" / "data")
