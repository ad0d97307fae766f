"""A logistic-regression head, stored as safetensors and evaluated in numpy.

Training fits it with scikit-learn; scoring needs only these arrays, so a
model directory never holds anything executable.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class LinearHead:
    mean: np.ndarray  # standardization
    scale: np.ndarray
    coef: np.ndarray  # logistic regression on standardized features
    intercept: float
    calib_a: float = 1.0  # Platt scaling of the decision, fitted on held-out folds
    calib_b: float = 0.0

    def decision(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"head expects {self.coef.shape[0]} features, got {X.shape[1]}")
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept

    def calibrate(self, decision: np.ndarray | float) -> np.ndarray:
        """Probability of 'machine-written' from a raw decision value."""
        z = self.calib_a * np.asarray(decision, dtype=np.float64) + self.calib_b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of 'machine-written' for each row."""
        return self.calibrate(self.decision(X))

    def tensors(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef,
                "intercept": np.array([self.intercept]), "calibration": np.array([self.calib_a, self.calib_b])}

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in self.tensors().items()}, str(path))

    @classmethod
    def load(cls, path: str | Path) -> "LinearHead":
        from safetensors.numpy import load_file

        t = load_file(str(path))
        missing = {"mean", "scale", "coef", "intercept", "calibration"} - set(t)
        if missing:
            raise ValueError(f"{path}: head tensors missing: {', '.join(sorted(missing))}")
        n = t["coef"].shape[0]
        if t["mean"].shape != (n,) or t["scale"].shape != (n,) or np.any(t["scale"] <= 0):
            raise ValueError(f"{path}: head tensors have inconsistent shapes or non-positive scales")
        return cls(t["mean"], t["scale"], t["coef"], float(t["intercept"][0]),
                   float(t["calibration"][0]), float(t["calibration"][1]))
