"""Fitting a head for training: `fabscore.head.LinearHead` (scaling, balanced
logistic regression, C by grouped CV, Platt scaling on out-of-fold decisions)
plus thresholds for target false-positive rates, chosen on out-of-fold human scores."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fabscore.models.head import C_GRID, LinearHead, cv_splits
from fabscore.training.eval.metrics import TARGET_FPRS, threshold_for_fpr

__all__ = ["C_GRID", "HeadFit", "fit_head", "fit_head_on_holdout", "folds"]


@dataclass
class HeadFit:
    """A fitted head and the thresholds chosen on its honest out-of-fold scores."""

    head: LinearHead
    thresholds: list[dict] = field(default_factory=list)

    @property
    def C(self) -> float:
        return self.head.C_

    @property
    def cv_auroc(self) -> dict[float, float]:
        return self.head.cv_auroc_

    @property
    def oof(self) -> np.ndarray:
        """Calibrated held-out probability for every row (NaN where `held` is False)."""
        return self.head.oof_proba_

    @property
    def held(self) -> np.ndarray:
        """Rows whose oof is honest: all of them, or the held-out part."""
        return self.head.held_


def folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Fold index per row (the head's own CV folds); no group ever spans two folds."""
    fold = np.full(len(y), -1)
    for k, (_, test) in enumerate(cv_splits(np.asarray(y), np.asarray(groups), n_splits, seed)):
        fold[test] = k
    return fold


def thresholds_for(p: np.ndarray, y: np.ndarray, fprs: tuple[float, ...], chosen_on: str) -> list[dict]:
    """For each target FPR the threshold chosen on the human rows of `p`, with the rates it gives there."""
    humans = p[y == 0]
    out = []
    for f in fprs:
        t = threshold_for_fpr(humans, f)
        out.append({"target_fpr": f, "threshold": t, "fpr_held_out": float((humans >= t).mean()),
                    "tpr_held_out": float((p[y == 1] >= t).mean()), "n_human": int(len(humans)),
                    "chosen_on": chosen_on})
    return out


def fit_head(X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0, n_splits: int = 5,
             Cs: tuple[float, ...] = C_GRID, fprs: tuple[float, ...] = TARGET_FPRS,
             augmented: np.ndarray | None = None) -> HeadFit:
    """Choose C by grouped CV AUROC, calibrate on out-of-fold decisions, set thresholds
    on out-of-fold human scores, then fit the final head on everything.
    augmented: rows that are attacked copies; fitted on, but calibration and
    thresholds come from the real rows only (LinearHead.fit)."""
    y = np.asarray(y, dtype=int)
    head = LinearHead(Cs=Cs, n_splits=n_splits, random_state=seed).fit(X, y, groups=np.asarray(groups),
                                                                         augmented=augmented)
    held = head.held_
    return HeadFit(head, thresholds_for(head.oof_proba_[held], y[held], fprs,
                                        "out-of-fold scores of the training data's human rows"))


def fit_head_on_holdout(X: np.ndarray, y: np.ndarray, groups: np.ndarray, holdout: np.ndarray, seed: int = 0,
                        n_splits: int = 5, Cs: tuple[float, ...] = C_GRID,
                        fprs: tuple[float, ...] = TARGET_FPRS) -> HeadFit:
    """For features that already saw the labels of the non-held-out rows (a fine-tuned
    encoder): fit on those rows (C by grouped CV among them), then calibrate, set
    thresholds and report only on the held-out rows, which nothing was fitted on."""
    y, holdout = np.asarray(y, dtype=int), np.asarray(holdout, dtype=bool)
    if len(set(y[holdout].tolist())) < 2 or len(set(y[~holdout].tolist())) < 2:
        raise ValueError("the held-out part and the rest must each hold human and machine articles")
    head = LinearHead(Cs=Cs, n_splits=n_splits, random_state=seed).fit(X, y, groups=np.asarray(groups),
                                                                         holdout=holdout)
    return HeadFit(head, thresholds_for(head.oof_proba_[holdout], y[holdout], fprs,
                                        "held-out human rows: stories the encoder and the head never saw"))
