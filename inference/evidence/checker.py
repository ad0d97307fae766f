"""The consistency head: a calibrated probability that the evidence supports a sentence.

A logistic regression over `features.FEATURES` (the writing heads' LinearHead:
standardization, coefficients and Platt calibration as safetensors), plus a
JSON file with the feature names, the number of evidence sentences retrieved
and the relevance cut below which a sentence gets `no_evidence` instead of a
guess. Both live in the model directory, listed in its manifest.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..head import LinearHead
from ..model_dir import CONSISTENCY_FILES, ModelDir, resolve
from .features import FEATURES, FEATURES_VERSION, TOP_K
from .index import EvidenceError

HEAD_FILE, CONFIG_FILE = CONSISTENCY_FILES
SUPPORT_CUT = 0.5  # a calibrated probability: supported when at least even odds


@dataclass
class Checker:
    head: LinearHead
    relevance_cut: float  # max cosine below which nothing retrieved is relevant
    top_k: int = TOP_K
    info: dict = field(default_factory=dict)  # how it was trained and measured

    def save(self, model_path: str | Path) -> None:
        """Write the head and its JSON into a model directory (the caller rewrites the manifest)."""
        path = Path(model_path)
        self.head.save(path / HEAD_FILE)
        config = {"features": list(FEATURES), "features_version": FEATURES_VERSION, "top_k": self.top_k,
                  "relevance_cut": self.relevance_cut, "support_cut": SUPPORT_CUT, **self.info}
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_checker(model: ModelDir | str | Path | None = None) -> Checker:
    """The consistency head of a model directory (a loaded ModelDir has had its manifest checked;
    a path is loaded and checked first)."""
    if not isinstance(model, ModelDir):
        from ..model_dir import load

        model = load(resolve(model))
    path = model.path
    if not (path / HEAD_FILE).is_file() or not (path / CONFIG_FILE).is_file():
        raise EvidenceError(f"{path}: this model has no consistency head ({HEAD_FILE}); evidence mode needs one "
                            "(python -m fabscore.training.consistency --out MODEL_DIR)")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
        head = LinearHead.load(path / HEAD_FILE)
    except Exception as e:  # noqa: BLE001 - corrupt JSON or safetensors
        raise EvidenceError(f"{path}: consistency head unreadable ({type(e).__name__}: {e})") from e
    if tuple(config.get("features") or ()) != FEATURES or config.get("features_version") != FEATURES_VERSION:
        raise EvidenceError(f"{path}: the consistency head was trained on features {config.get('features_version')!r} "
                            f"{config.get('features')}, this fabscore computes {FEATURES_VERSION!r} (re-train it)")
    if head.n_features_in_ != len(FEATURES):
        raise EvidenceError(f"{path}: consistency head has {head.n_features_in_} weights for {len(FEATURES)} features")
    info = {k: v for k, v in config.items()
            if k not in ("features", "features_version", "top_k", "relevance_cut", "support_cut")}
    return Checker(head, float(config["relevance_cut"]), int(config.get("top_k", TOP_K)), info)
