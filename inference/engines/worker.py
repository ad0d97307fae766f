"""What runs inside a worker process (or a Ray actor): the detector, loaded once, and one
input's record. The local and Ray engines share it, and the parent uses the same
`input_record` for inputs that need no worker, so every engine writes the same records.
"""
from __future__ import annotations

from dataclasses import replace

from fabscore.io.reading import Input


def input_record(inp: Input, det, keep: tuple[str, ...] = (), check=None) -> dict:
    """The record of one input (Detector.record: the same record the Python API returns);
    keep: --keep-fields (absent columns come back null); check: evidence mode's check, or None."""
    fields = inp.fields if inp.fields is not None else (dict.fromkeys(keep) if keep else None)
    return det.record(inp.text, path=inp.path, id=inp.id, error=inp.error, text_field=inp.text_field,
                      fields=fields, check=check)


_DETECTOR = None
_KEEP: tuple[str, ...] = ()


def init_scorer(model_path: str, fpr: float, keep: tuple[str, ...] = ()) -> None:
    """Worker initializer: the detector and its backbones, loaded once per process."""
    global _DETECTOR, _KEEP
    _KEEP = tuple(keep)
    from fabscore.detector import Detector
    from fabscore.features import uses_lm
    from fabscore.models import backbones
    from fabscore.models.directory import load

    _DETECTOR = Detector(load(model_path), fpr=fpr)
    if uses_lm(_DETECTOR.kinds):
        backbones.load_smollm()
    if "embed" in _DETECTOR.kinds:
        enc = _DETECTOR.model.encoder
        backbones.load_minilm_weights(enc) if enc else backbones.load_minilm()


def score_input(inp: Input) -> dict:
    """One input's record, by the worker's detector."""
    return input_record(inp, _DETECTOR, _KEEP)


def died_record(inp: Input, det, why: Exception, keep: tuple[str, ...] = ()) -> dict:
    """The error record of an input whose worker died (or failed outside `input_record`)."""
    return input_record(replace(inp, text=None, error=f"scoring failed: {type(why).__name__}: {why}"), det, keep)
