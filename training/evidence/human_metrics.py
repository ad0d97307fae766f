"""Leave-one-dataset-out metrics of evidence mode on human-labelled pairs.

For each set people judged: the pairs' `support` from a consistency head fitted without that
set's family (its verifier logits come from the verifier fold that left the family out as well),
against the labels: AUROC (supported vs not) and balanced accuracy at the status cut
(verdicts.SUPPORT_CUT), beside the verifier's own logit and today's overlap-only head where given.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from fabscore.evidence.verdicts import SUPPORT_CUT


def scores(y: np.ndarray, p: np.ndarray, cut: float | None = SUPPORT_CUT) -> dict:
    """AUROC of p for y = 1 (supported), and balanced accuracy of p >= cut (None: no cut, logits)."""
    y = np.asarray(y)
    if len(set(y.tolist())) < 2:  # one class: nothing to rank
        return {"n": int(len(y)), "n_supported": int(y.sum()), "auroc": None, "bacc": None}
    out = {"n": int(len(y)), "n_supported": int(y.sum()), "auroc": round(float(roc_auc_score(y, p)), 4)}
    out["bacc"] = None if cut is None else round(float(balanced_accuracy_score(y, np.asarray(p) >= cut)), 4)
    return out


def lodo_table(datasets: np.ndarray, y: np.ndarray, columns: dict[str, np.ndarray], reported: tuple[str, ...]) -> dict:
    """{set: {column: scores}} plus the mean AUROC and balanced accuracy of each column over the sets."""
    out = {}
    for d in reported:
        m = datasets == d
        if m.any():
            out[d] = {name: scores(y[m], p[m], None if name == "verifier_logit" else SUPPORT_CUT)
                      for name, p in columns.items()}
    means = {}
    for name in columns:
        au = [v[name]["auroc"] for v in out.values() if v[name]["auroc"] is not None]
        ba = [v[name]["bacc"] for v in out.values() if v[name].get("bacc") is not None]
        means[name] = {"auroc": round(float(np.mean(au)), 4) if au else None,
                       "bacc": round(float(np.mean(ba)), 4) if ba else None}
    return {"sets": out, "mean": means}
