"""What the experiments share: where the repository, the shared data and the results are, and
the Hugging Face offline defaults.

An experiment runs as `python experiments/NAME.py`, which puts this folder on the import path,
so `import common` finds this module. It sets the offline defaults on import, before anything
imports the Hugging Face libraries (which read them then); fabscore's backbones never ask a hub
anyway (`local_files_only`), so this only keeps other Hugging Face code quiet and offline.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent  # experiments/: the result files
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"  # the shared data folder beside the repository


def parser(doc: str, out: str, max_rows: int, share: float) -> argparse.ArgumentParser:
    """The command line of an experiment that trains on a mix of data sets: its rows per set, its
    share of attacked copies and its result file (`out`, in this folder unless --out says otherwise)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-rows", type=int, default=max_rows,
                    help="articles kept per data set, half of each label where possible (default %(default)s)")
    ap.add_argument("--share", type=float, default=share,
                    help="share of rows that get one attacked copy (default %(default)s)")
    ap.add_argument("--out", default=str(HERE / out), help="the result file (default %(default)s)")
    return ap
