"""A calibrated logistic-regression head: a scikit-learn estimator stored as safetensors.

`LinearHead` follows the scikit-learn estimator contract (`__init__` stores
parameters, `fit` returns self, fitted attributes end in `_`), so it composes
with scikit-learn tools and passes `check_estimator`. Fitting is built from
scikit-learn's parts:

- `Pipeline(StandardScaler, LogisticRegression(class_weight="balanced"))`: both
  classes get equal total weight instead of discarding data;
- `GridSearchCV` over C on `StratifiedGroupKFold` folds when groups are given
  (a story and its rewrites never straddle folds), plain stratified folds otherwise;
- Platt scaling on out-of-fold decisions (`cross_val_predict`), under equal class
  priors.

Why not `CalibratedClassifierCV(method="sigmoid")`: training must choose its
false-positive-rate thresholds on the out-of-fold *calibrated* scores, which
`CalibratedClassifierCV` computes internally but does not expose; its sigmoid
calibrator (`_SigmoidCalibration`) is private, so its parameters could not be
stored without reaching into private API; it cannot weight the classes of the
calibration set (a Pipeline does not take `sample_weight`), so its probabilities
would depend on the class ratio of the training data; and `cv="prefit"` is gone
in scikit-learn 1.9 (`FrozenEstimator` would calibrate on in-sample decisions).
The Platt map is therefore a public `LogisticRegression(class_weight="balanced")`
on the 1-D out-of-fold decision, which is exactly what Platt scaling is.

A saved head holds only arrays (mean, scale, coef, intercept, calibration), so a
model directory never holds anything executable; loading one gives a fitted
estimator that scores exactly as the numpy head it replaces.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3)
TENSORS = ("mean", "scale", "coef", "intercept", "calibration")


def cv_splits(y: np.ndarray, groups: np.ndarray | None, n_splits: int,
              seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, test) index pairs; with groups, no group ever spans two folds.
    n_splits is lowered to the smaller class's count so every fold can hold both classes."""
    y = np.asarray(y)
    n_splits = max(2, min(n_splits, int(np.unique(y, return_counts=True)[1].min())))
    if groups is None:
        return list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    return list(StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def _pipeline(C: float, seed: int, max_iter: int) -> Pipeline:
    return Pipeline([("standardscaler", StandardScaler()),
                     ("logisticregression", LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter,
                                                               tol=1e-4, random_state=seed))])


def _sigmoid(z) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


class LinearHead(ClassifierMixin, BaseEstimator):
    """Calibrated probability that an article (or sentence) is machine-written.

    Parameters: Cs, the inverse regularization strengths tried (ties in CV AUROC go
    to the smallest, i.e. the strongest regularization); n_splits, folds of the
    CV; random_state, fold shuffling and solver seed; max_iter for the solver.

    Fitted attributes: pipeline_ (StandardScaler + LogisticRegression on all
    training rows), calibration_ ((a, b): p = sigmoid(a * decision + b)), classes_,
    n_features_in_, n_iter_; after `fit` (not after `load`) also C_, cv_auroc_ ({C: mean
    fold AUROC}), oof_decision_ and oof_proba_ (out-of-fold decision and calibrated
    probability per row, NaN where not honest), held_ (rows whose oof is honest).
    """

    def __init__(self, Cs=C_GRID, n_splits: int = 5, random_state: int = 0, max_iter: int = 2000):
        self.Cs = Cs
        self.n_splits = n_splits
        self.random_state = random_state
        self.max_iter = max_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------ fitting
    def fit(self, X, y, groups=None, holdout=None, augmented=None):
        """Choose C by (grouped) CV AUROC, fit the pipeline, Platt-scale its out-of-fold decisions.

        groups: story keys; rows sharing one are never split between folds.
        holdout: boolean mask of rows kept out of everything but calibration (for
        features that already saw the other rows' labels, e.g. a fine-tuned encoder):
        C and the pipeline come from the other rows, Platt scaling and oof_* from these.
        augmented: boolean mask of synthetic rows (attacked copies sharing their
        original's group): fitted on and given out-of-fold scores, but never used for
        Platt scaling, and not in held_, so calibration and thresholds describe real text.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if type_of_target(y, input_name="y") != "binary" or len(self.classes_) != 2:
            raise ValueError(f"Only binary classification is supported (human and machine); got "
                             f"{len(self.classes_)} class{'es' if len(self.classes_) != 1 else ''}")
        target = (y == self.classes_[1]).astype(int)
        groups = None if groups is None else np.asarray(groups)
        fit_rows = np.ones(len(y), dtype=bool) if holdout is None else ~np.asarray(holdout, dtype=bool)
        cal_rows = fit_rows if holdout is None else ~fit_rows
        synthetic = np.zeros(len(y), dtype=bool) if augmented is None else np.asarray(augmented, dtype=bool)
        for rows, what in ((fit_rows, "fitted on"), (cal_rows, "held out")):
            if len(np.unique(target[rows])) < 2:
                raise ValueError(f"the rows {what} must hold both classes")
        Xf, yf, gf = X[fit_rows], target[fit_rows], None if groups is None else groups[fit_rows]
        splits = cv_splits(yf, gf, self.n_splits, self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search = GridSearchCV(_pipeline(1.0, self.random_state, self.max_iter),
                                  {"logisticregression__C": sorted(self.Cs)}, scoring="roc_auc", cv=splits,
                                  refit=False, error_score=np.nan).fit(Xf, yf)
            scores = np.nan_to_num(search.cv_results_["mean_test_score"], nan=-np.inf)
            scores = search.cv_results_["mean_test_score"]
            self.cv_auroc_ = {float(c): float(s) for c, s in zip(sorted(self.Cs), scores)}
            self.C_ = float(sorted(self.Cs)[int(np.argmax(np.round(scores, 4)))])  # ties: smallest C
            model = _pipeline(self.C_, self.random_state, self.max_iter)
            if holdout is None:
                cal_decision = cross_val_predict(model, Xf, yf, cv=splits, method="decision_function")
            self.pipeline_ = model.fit(Xf, yf)
            self.n_iter_ = self.pipeline_[-1].n_iter_
            if holdout is not None:
                cal_decision = self.pipeline_.decision_function(X[cal_rows])
        self.oof_decision_ = np.full(len(y), np.nan)
        self.oof_decision_[cal_rows] = cal_decision
        real = cal_rows & ~synthetic
        if len(np.unique(target[real])) < 2:
            raise ValueError("the calibration rows must hold both classes of real (not augmented) text")
        platt = LogisticRegression(C=1e4, class_weight="balanced", max_iter=1000).fit(
            self.oof_decision_[real][:, None], target[real])
        self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        self.held_ = real
        self.oof_proba_ = self.calibrate(self.oof_decision_)
        return self

    # ------------------------------------------------------------ scoring
    def decision_function(self, X) -> np.ndarray:
        """Raw decision per row (standardized features times weights plus intercept)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        scaler, lr = self.pipeline_[0], self.pipeline_[-1]
        # numpy as the stored head always computed it, so shipped models score bit for bit as before
        return ((X - scaler.mean_) / scaler.scale_) @ lr.coef_[0] + lr.intercept_[0]

    def calibrate(self, decision) -> np.ndarray:
        """Probability of the positive class ('machine-written') from a raw decision value."""
        check_is_fitted(self)
        a, b = self.calibration_
        return _sigmoid(a * np.asarray(decision, dtype=np.float64) + b)

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2): calibrated probabilities of classes_[0] (human) and classes_[1] (machine)."""
        p = self.calibrate(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        machine = self.calibrate(self.decision_function(X)) >= 0.5
        return self.classes_[machine.astype(int)]

    # ------------------------------------------------------------ storage
    def tensors(self) -> dict[str, np.ndarray]:
        """The arrays a saved head holds."""
        check_is_fitted(self)
        scaler, lr = self.pipeline_[0], self.pipeline_[-1]
        return {"mean": scaler.mean_, "scale": scaler.scale_, "coef": lr.coef_[0],
                "intercept": np.array([lr.intercept_[0]]), "calibration": np.array(self.calibration_)}

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in self.tensors().items()}, str(path))

    @classmethod
    def from_tensors(cls, t: dict[str, np.ndarray], origin: str = "head") -> LinearHead:
        """A fitted head from stored arrays (classes 0 = human, 1 = machine); ValueError naming `origin`."""
        missing = set(TENSORS) - set(t)
        if missing:
            raise ValueError(f"{origin}: head tensors missing: {', '.join(sorted(missing))}")
        n = t["coef"].shape[0]
        if t["coef"].ndim != 1 or t["mean"].shape != (n,) or t["scale"].shape != (n,) or np.any(t["scale"] <= 0) \
                or t["intercept"].shape != (1,) or t["calibration"].shape != (2,):
            raise ValueError(f"{origin}: head tensors have inconsistent shapes or non-positive scales")
        head = cls()
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_, scaler.var_ = t["mean"], t["scale"], t["scale"] ** 2
        scaler.n_features_in_, scaler.n_samples_seen_ = n, 0
        lr = LogisticRegression(class_weight="balanced")
        lr.coef_, lr.intercept_ = t["coef"][None, :], t["intercept"]
        lr.classes_, lr.n_features_in_ = np.array([0, 1]), n
        lr.n_iter_ = np.array([0])
        head.pipeline_ = Pipeline([("standardscaler", scaler), ("logisticregression", lr)])
        head.calibration_ = (float(t["calibration"][0]), float(t["calibration"][1]))
        head.classes_, head.n_features_in_, head.n_iter_ = np.array([0, 1]), n, lr.n_iter_
        return head

    @classmethod
    def load(cls, path: str | Path) -> LinearHead:
        from safetensors.numpy import load_file

        return cls.from_tensors(load_file(str(path)), str(path))
