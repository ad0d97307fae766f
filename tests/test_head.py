"""The head as a scikit-learn estimator: the estimator contract, and the
shipped heads loading as fitted estimators that score exactly as before."""
from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

from fabscore.models import directory as md
from fabscore.models.head import LinearHead

SHIPPED_HEADS = [(m, level) for m in ("default", "fast") for level in ("article", "sentence")]


@pytest.mark.slow
def test_linear_head_passes_check_estimator():
    """Every check of scikit-learn's estimator contract (a one-value C grid and 2 folds
    keep it quick; the grid search, folds and Platt scaling still run in every fit)."""
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(LinearHead(Cs=(1.0,), n_splits=2), on_fail=None)
    failed = {r["check_name"]: repr(r["exception"])[:300] for r in results if r["status"] == "failed"}
    assert not failed, failed
    assert len(results) > 40


@pytest.mark.parametrize("model,level", SHIPPED_HEADS)
def test_shipped_head_loads_fitted_and_matches_its_stored_arrays(model, level):
    """A loaded head is a fitted estimator whose decision is the stored linear map, bit
    for bit, and whose probability is the stored Platt map of it."""
    path = md.SHIPPED / model / md.HEAD_FILES[level]
    t = load_file(str(path))
    head = LinearHead.load(path)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, len(t["coef"]))) * t["scale"] + t["mean"]
    want = ((X - t["mean"]) / t["scale"]) @ t["coef"] + t["intercept"][0]
    assert np.array_equal(head.decision_function(X), want)
    for i in range(3):  # one row at a time, as the detector scores a chunk
        row = X[i:i + 1]
        assert head.decision_function(row)[0] == (((row - t["mean"]) / t["scale"]) @ t["coef"] + t["intercept"][0])[0]
    a, b = t["calibration"]
    proba = head.predict_proba(X)
    assert proba.shape == (64, 2)
    assert np.allclose(proba[:, 1], 1 / (1 + np.exp(-(a * want + b))), rtol=0, atol=1e-15)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(head.predict(X)) == list((proba[:, 1] >= 0.5).astype(int))
    with pytest.raises(ValueError, match="features"):
        head.decision_function(X[:, :-1])


def test_fit_save_load_round_trip(tmp_path):
    """fit -> save (safetensors only) -> load gives the same probabilities; fit keeps
    what training needs (C, CV AUROC, out-of-fold calibrated probabilities)."""
    rng = np.random.default_rng(1)
    n = 120
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, 4)) + y[:, None] * np.array([1.0, 0.5, 0.0, 0.0])
    groups = np.arange(n) // 3  # stories of 3 rows, never split across folds
    head = LinearHead(random_state=0).fit(X, y, groups=groups)
    assert head.C_ in head.Cs and set(head.cv_auroc_) == set(head.Cs)
    assert head.oof_proba_.shape == (n,) and head.held_.all()
    # out-of-fold scores separate the classes but were not fitted on their own rows
    from sklearn.metrics import roc_auc_score
    assert 0.75 < roc_auc_score(y, head.oof_proba_) < roc_auc_score(y, head.predict_proba(X)[:, 1]) + 0.05
    head.save(tmp_path / "h.safetensors")
    assert set(load_file(str(tmp_path / "h.safetensors"))) == {"mean", "scale", "coef", "intercept", "calibration"}
    again = LinearHead.load(tmp_path / "h.safetensors")
    assert np.array_equal(again.predict_proba(X), head.predict_proba(X))


def test_holdout_rows_alone_calibrate():
    rng = np.random.default_rng(2)
    y = np.tile([0, 1], 50)
    X = rng.normal(size=(100, 3)) + y[:, None]
    holdout = np.arange(100) >= 80
    head = LinearHead(Cs=(0.1, 1.0), n_splits=3).fit(X, y, groups=np.arange(100), holdout=holdout)
    assert np.isnan(head.oof_proba_[~holdout]).all() and not np.isnan(head.oof_proba_[holdout]).any()
    assert np.array_equal(head.held_, holdout)


def test_truncated_head_file_is_a_clear_error(tmp_path):
    from safetensors.numpy import save_file

    t = load_file(str(md.SHIPPED / "default" / md.HEAD_FILES["article"]))
    del t["calibration"]
    save_file(t, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match=r"bad\.safetensors: head tensors missing: calibration"):
        LinearHead.load(tmp_path / "bad.safetensors")
