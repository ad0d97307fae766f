"""The `train` recipe re-done for the experiments, with sample weights and an 'auxiliary' mask (rows
fitted on but never used for Platt scaling or thresholds).

StandardScaler (unweighted, as the shipped pipeline) + class-balanced logistic regression at C = 0.3,
out-of-fold decisions in story-grouped 5-fold CV, Platt scaling on the out-of-fold decisions of the
calibration rows (real news rows), the 1% threshold on their out-of-fold humans; the final fit on all
rows. With the shipped default's rows (`base`) this reproduces its card and its stored threshold.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

from fabscore.training.eval.metrics import threshold_for_fpr

warnings.simplefilter("ignore", ConvergenceWarning)


class Fit:
    def __init__(self, X, y, w=None, C=0.3, seed=0):
        self.sc = StandardScaler().fit(X)
        self.lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, tol=1e-4, random_state=seed)
        self.lr.fit(self.sc.transform(X), y, sample_weight=w)
        self.a, self.b = 1.0, 0.0

    def decision(self, X):
        return self.lr.decision_function(self.sc.transform(X))

    def proba(self, X):
        return 1 / (1 + np.exp(-np.clip(self.a * self.decision(X) + self.b, -500, 500)))


def folds(y, groups, k=5, seed=0):
    """Each row's fold in story-grouped, label-stratified k-fold CV."""
    f = np.full(len(y), -1)
    for i, (_, te) in enumerate(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y,
                                                                                            groups)):
        f[te] = i
    return f


def fit_calibrated(X, y, groups, w=None, calib=None, C=0.3, seed=0, k=5):
    """The train recipe: out-of-fold decisions (grouped k-fold) -> Platt on `calib` rows (real rows of the
    sets thresholds may be chosen on) -> 1% threshold on their out-of-fold humans; final fit on all rows.
    Returns (fit, out-of-fold calibrated probabilities, threshold at 1% FPR, folds)."""
    calib = np.ones(len(y), bool) if calib is None else calib
    f = folds(y, groups, k, seed)
    dec = np.full(len(y), np.nan)
    for i in range(k):
        tr = f != i
        dec[f == i] = Fit(X[tr], y[tr], None if w is None else w[tr], C, seed).decision(X[f == i])
    platt = LogisticRegression(C=1e4, class_weight="balanced", max_iter=1000).fit(dec[calib][:, None], y[calib])
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    oof = 1 / (1 + np.exp(-np.clip(a * dec + b, -500, 500)))
    t = threshold_for_fpr(oof[calib & (y == 0)], 0.01)
    fit = Fit(X, y, w, C, seed)
    fit.a, fit.b = a, b
    return fit, oof, t, f
