"""Fitting a head: standardized features, logistic regression, grouped CV, Platt
calibration on held-out folds, thresholds for target false-positive rates."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

from fabscore.head import LinearHead

from .metrics import TARGET_FPRS, auroc, threshold_for_fpr

C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3)


@dataclass
class HeadFit:
    head: LinearHead
    C: float
    cv_auroc: dict[float, float]
    oof: np.ndarray  # calibrated held-out probability for every row (NaN where `held` is False)
    fold: np.ndarray  # which fold held each row out
    thresholds: list[dict] = field(default_factory=list)
    held: np.ndarray | None = None  # rows whose oof is honest: all of them, or the held-out part

    def __post_init__(self) -> None:
        if self.held is None:
            self.held = np.ones(len(self.oof), dtype=bool)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Weights that give both classes equal total mass (instead of discarding data)."""
    w = np.ones(len(y))
    for c in (0, 1):
        m = y == c
        if m.any():
            w[m] = len(y) / (2.0 * m.sum())
    return w


def _lr(C: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=2000, tol=1e-4, random_state=seed)


def _fit_linear(X: np.ndarray, y: np.ndarray, C: float, seed: int) -> tuple[StandardScaler, LogisticRegression]:
    scaler = StandardScaler().fit(X)
    scaler.scale_[scaler.scale_ < 1e-12] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr = _lr(C, seed).fit(scaler.transform(X), y, sample_weight=balanced_weights(y))
    return scaler, lr


def folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Fold index per row; no group ever spans two folds."""
    n_splits = max(2, min(n_splits, int(min(np.bincount(y, minlength=2)))))
    fold = np.full(len(y), -1)
    for k, (_, test) in enumerate(StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(
            np.zeros(len(y)), y, groups)):
        fold[test] = k
    return fold


def platt(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Calibration map fitted on held-out decisions, under equal class priors."""
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(decision[:, None], y, sample_weight=balanced_weights(y))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _thresholds(p: np.ndarray, y: np.ndarray, fprs: tuple[float, ...], chosen_on: str) -> list[dict]:
    humans = p[y == 0]
    out = []
    for f in fprs:
        t = threshold_for_fpr(humans, f)
        out.append({"target_fpr": f, "threshold": t, "fpr_held_out": float((humans >= t).mean()),
                    "tpr_held_out": float((p[y == 1] >= t).mean()), "n_human": int(len(humans)),
                    "chosen_on": chosen_on})
    return out


def fit_head_on_holdout(X: np.ndarray, y: np.ndarray, groups: np.ndarray, holdout: np.ndarray, seed: int = 0,
                        n_splits: int = 5, Cs: tuple[float, ...] = C_GRID,
                        fprs: tuple[float, ...] = TARGET_FPRS) -> HeadFit:
    """For features that already saw the labels of the non-held-out rows (a fine-tuned
    encoder): fit on those rows (C by grouped CV among them), then calibrate, set
    thresholds and report only on the held-out rows, which nothing was fitted on."""
    X, y, holdout = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=int), np.asarray(holdout, dtype=bool)
    if len(set(y[holdout].tolist())) < 2 or len(set(y[~holdout].tolist())) < 2:
        raise ValueError("the held-out part and the rest must each hold human and machine articles")
    inner = fit_head(X[~holdout], y[~holdout], np.asarray(groups)[~holdout], seed, n_splits, Cs, fprs=())
    scaler, lr = _fit_linear(X[~holdout], y[~holdout], inner.C, seed)
    dec = lr.decision_function(scaler.transform(X[holdout]))
    a, b = platt(dec, y[holdout])
    head = LinearHead(scaler.mean_.copy(), scaler.scale_.copy(), lr.coef_[0].copy(), float(lr.intercept_[0]), a, b)
    oof = np.full(len(y), np.nan)
    oof[holdout] = head.calibrate(dec)
    thresholds = _thresholds(oof[holdout], y[holdout], fprs,
                             "held-out human rows: stories the encoder and the head never saw")
    return HeadFit(head, inner.C, inner.cv_auroc, oof, holdout.astype(int), thresholds, held=holdout)


def fit_head(X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0, n_splits: int = 5,
             Cs: tuple[float, ...] = C_GRID, fprs: tuple[float, ...] = TARGET_FPRS) -> HeadFit:
    """Choose C by grouped CV AUROC, calibrate on out-of-fold decisions, set thresholds
    on out-of-fold human scores, then fit the final head on everything."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=int)
    fold = folds(y, np.asarray(groups), n_splits, seed)
    oof_by_c, cv = {}, {}
    for C in Cs:
        dec = np.zeros(len(y))
        for k in np.unique(fold):
            tr, te = fold != k, fold == k
            scaler, lr = _fit_linear(X[tr], y[tr], C, seed)
            dec[te] = lr.decision_function(scaler.transform(X[te]))
        oof_by_c[C], cv[C] = dec, auroc(y, dec)
    best = max(Cs, key=lambda c: (round(cv[c], 4), -c))  # ties go to stronger regularization
    a, b = platt(oof_by_c[best], y)
    scaler, lr = _fit_linear(X, y, best, seed)
    head = LinearHead(scaler.mean_.copy(), scaler.scale_.copy(), lr.coef_[0].copy(), float(lr.intercept_[0]), a, b)
    oof = head.calibrate(oof_by_c[best])
    thresholds = _thresholds(oof, y, fprs, "out-of-fold scores of the training data's human rows")
    return HeadFit(head, best, cv, oof, fold, thresholds)
