"""Detection metrics that matter when a false accusation is the worst failure."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

TARGET_FPRS = (0.001, 0.01, 0.05)


def auroc(y: np.ndarray, s: np.ndarray) -> float | None:
    y, s = np.asarray(y), np.asarray(s)
    return float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None


def tpr_at_fpr(y: np.ndarray, s: np.ndarray, fpr: float) -> float | None:
    """Largest TPR whose FPR does not exceed `fpr` on the ROC curve."""
    y, s = np.asarray(y), np.asarray(s)
    if len(set(y.tolist())) < 2:
        return None
    f, t, _ = roc_curve(y, s)
    ok = f <= fpr + 1e-12
    return float(t[ok].max()) if ok.any() else 0.0


def threshold_for_fpr(human_scores: np.ndarray, fpr: float) -> float:
    """Smallest threshold t such that the share of human scores >= t is at most fpr.

    With n human scores, fpr below 1/n can only be met by putting the threshold
    above the highest human score."""
    h = np.sort(np.asarray(human_scores, dtype=np.float64))[::-1]
    allowed = int(np.floor(fpr * len(h) + 1e-9))  # humans allowed at or above t
    if allowed >= len(h):
        return float(h[-1])
    nxt = h[allowed]  # the first human that must fall below t
    return float(np.nextafter(nxt, np.inf))


def rate_at(scores: np.ndarray, threshold: float) -> float | None:
    scores = np.asarray(scores)
    return float((scores >= threshold).mean()) if scores.size else None


def min_humans(fpr: float) -> int:
    """Human articles needed before a measured rate at `fpr` means anything: at least
    one human must be allowed above the threshold (1% of 100 = 1)."""
    return int(np.ceil(1.0 / fpr - 1e-9))


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, np.ndarray]:
    """Reliability diagram with equal-width bins (sklearn.calibration.calibration_curve):
    mean predicted probability, observed machine share and row count per non-empty bin."""
    from sklearn.calibration import calibration_curve

    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], p), minlength=bins)  # its binning
    return {"predicted": predicted, "observed": observed, "count": counts[counts > 0]}


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap of the reliability diagram."""
    r = reliability(y, p, bins)
    return float(np.sum(r["count"] * np.abs(r["predicted"] - r["observed"])) / r["count"].sum())


def group_summaries(keys, y: np.ndarray, p: np.ndarray, thresholds: dict[float, float] | None = None
                    ) -> dict[str, dict]:
    """summary() per value of `keys`. A machine-only group (a generator) is scored
    against all human rows so its AUROC is defined; a human-only group keeps its
    own rows and reports its FPR at the thresholds."""
    keys, y, p = np.asarray(keys), np.asarray(y), np.asarray(p)
    out = {}
    for k in sorted(set(keys.tolist())):
        m = keys == k
        if (y[m] == 1).any() and not (y[m] == 0).any():
            m = m | (y == 0)
        out[k] = summary(y[m], p[m], thresholds)
    return out


def summary(y: np.ndarray, p: np.ndarray, thresholds: dict[float, float] | None = None) -> dict:
    """AUROC, TPR at 1% / 5% FPR, ECE, and FPR/TPR at stored thresholds.

    Left out (None) where the rows cannot say: AUROC and ECE need both classes (ECE of a
    human-only group is just its mean score), TPR at x% FPR needs min_humans(x) humans."""
    y, p = np.asarray(y), np.asarray(p)
    n_human = int((y == 0).sum())
    out = {"n": int(len(y)), "n_machine": int((y == 1).sum()), "n_human": n_human,
           "auroc": auroc(y, p),
           "tpr_at_1pct_fpr": tpr_at_fpr(y, p, 0.01) if n_human >= min_humans(0.01) else None,
           "tpr_at_5pct_fpr": tpr_at_fpr(y, p, 0.05) if n_human >= min_humans(0.05) else None,
           "ece": ece(y, p) if len(set(y.tolist())) == 2 else None}
    for fpr, t in (thresholds or {}).items():
        out[f"at_threshold_{fpr:g}"] = {"threshold": t, "fpr": rate_at(p[y == 0], t), "tpr": rate_at(p[y == 1], t)}
    return out
