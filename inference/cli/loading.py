"""The one way the command line's front ends (`score`, `check`, `serve`) load a detector."""
from __future__ import annotations

import os


def quiet_libraries() -> None:
    """The command's stderr is for its own progress, summary and errors: no download
    bars or notices from transformers (done here, never on import of the library)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def load_detector(model: str | None, usage_error: type[Exception], fpr: float | None = None,
                  device: str | None = None):
    """The detector of --model (a shipped name or a model directory); a bad one is a usage error that
    names the shipped models."""
    from fabscore.models.directory import shipped_names

    if model is not None and not os.path.exists(model) and model not in shipped_names():
        raise usage_error(f"--model {model}: no such model directory; the shipped models are "
                          f"{', '.join(shipped_names())} (or give the path of a trained model directory)")
    quiet_libraries()
    from fabscore.detector import Detector
    from fabscore.models.directory import load

    try:
        return Detector(load(model), fpr=fpr, device=device)
    except (ValueError, RuntimeError, OSError, KeyError) as e:  # ModelDirError, DeviceError are ValueErrors
        raise usage_error(str(e)) from e
