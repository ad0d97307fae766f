"""The consistency head: a calibrated probability that the evidence supports a sentence.

A logistic regression over `features.FEATURES` (the writing heads' LinearHead:
standardization, coefficients and Platt calibration as safetensors), plus a
JSON file with the feature names, the number of evidence sentences retrieved, and
the relevance cut below which a sentence gets `no_evidence` instead of a guess.
Both live in the model directory, listed in its manifest. What a status or a claim
verdict means is verdicts.py's.

The relevance cut depends on the size of the evidence pool: the more sentences a
pool holds, the closer the nearest *unrelated* one comes (a maximum over more
draws), so one fixed cosine is too strict for a single reference article and too
lax for ten thousand. Training measures the 95th percentile of unrelated
sentences' best cosine on pools of several sizes and stores a line in log(size)
(`RelevanceCut`); scoring evaluates it at the size of the index it searches.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from fabscore.evidence.features import FEATURES, FEATURES_VERSION, TOP_K
from fabscore.evidence.table import EvidenceError
from fabscore.evidence.verdicts import SUPPORT_CUT
from fabscore.models.directory import CONSISTENCY_FILES, ModelDir, resolve
from fabscore.models.head import LinearHead

HEAD_FILE, CONFIG_FILE = CONSISTENCY_FILES
# keys of consistency.json that are the checker's own (claim_support_cut: written by earlier versions,
# whose claim rule the verdicts replaced; ignored)
_OWN_KEYS = ("features", "features_version", "top_k", "relevance_cut", "support_cut", "claim_support_cut")


@dataclass(frozen=True)
class RelevanceCut:
    """The best cosine below which nothing retrieved counts as relevant, for a pool of n
    sentences: intercept + slope * ln(n), n clipped to the pool sizes it was measured on
    (a line fitted beyond them would be a guess). slope 0 is one fixed cut."""

    intercept: float
    slope: float = 0.0
    n_min: int = 1
    n_max: int = 1

    def __call__(self, n_sentences: int) -> float:
        n = min(max(int(n_sentences), self.n_min), self.n_max)
        return float(self.intercept + self.slope * math.log(max(n, 1)))

    def as_dict(self) -> dict:
        return {"intercept": self.intercept, "slope": self.slope, "n_min": self.n_min, "n_max": self.n_max}

    @classmethod
    def from_config(cls, value) -> RelevanceCut:
        """A stored cut: a number (one fixed cut) or the dict of `as_dict`."""
        cut = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            cut = cls(float(value))
        elif isinstance(value, dict):
            cut = cls(float(value["intercept"]), float(value.get("slope", 0.0)), int(value.get("n_min", 1)),
                      int(value.get("n_max", 1)))
        if cut is not None and 1 <= cut.n_min <= cut.n_max and all(0.0 < cut(n) < 1.0 for n in (cut.n_min, cut.n_max)):
            return cut
        raise ValueError(f"relevance_cut {value!r} is not a cosine in (0, 1) or a valid line in log(pool size)")


@dataclass
class Checker:
    head: LinearHead
    relevance: RelevanceCut  # best cosine below which nothing retrieved is relevant, by pool size
    top_k: int = TOP_K
    info: dict = field(default_factory=dict)  # how it was trained and measured

    def relevance_cut(self, n_sentences: int) -> float:
        """The relevance cut for an evidence pool of n_sentences sentences."""
        return self.relevance(n_sentences)

    def save(self, model_path: str | Path) -> None:
        """Write the head and its JSON into a model directory (the caller rewrites the manifest)."""
        path = Path(model_path)
        self.head.save(path / HEAD_FILE)
        config = {**self.info, "features": list(FEATURES), "features_version": FEATURES_VERSION, "top_k": self.top_k,
                  "relevance_cut": self.relevance.as_dict(), "support_cut": SUPPORT_CUT}
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_checker(model: ModelDir | str | Path | None = None) -> Checker:
    """The consistency head of a model directory (a loaded ModelDir has had its manifest checked;
    a path is loaded and checked first)."""
    if not isinstance(model, ModelDir):
        from fabscore.models.directory import load

        model = load(resolve(model))
    path = model.path
    if not (path / HEAD_FILE).is_file() or not (path / CONFIG_FILE).is_file():
        raise EvidenceError(f"{path}: this model has no consistency head ({HEAD_FILE}); evidence mode needs one "
                            "(python -m fabscore.training.evidence --out MODEL_DIR)")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
        head = LinearHead.load(path / HEAD_FILE)
        relevance = RelevanceCut.from_config(config["relevance_cut"])
    except Exception as e:  # noqa: BLE001 - corrupt JSON or safetensors
        raise EvidenceError(f"{path}: consistency head unreadable ({type(e).__name__}: {e})") from e
    if tuple(config.get("features") or ()) != FEATURES or config.get("features_version") != FEATURES_VERSION:
        raise EvidenceError(f"{path}: the consistency head was trained on features {config.get('features_version')!r} "
                            f"{config.get('features')}, this fabscore computes {FEATURES_VERSION!r} (re-train it)")
    if head.n_features_in_ != len(FEATURES):
        raise EvidenceError(f"{path}: consistency head has {head.n_features_in_} weights for {len(FEATURES)} features")
    info = {k: v for k, v in config.items() if k not in _OWN_KEYS}
    return Checker(head, relevance, int(config.get("top_k", TOP_K)), info)
