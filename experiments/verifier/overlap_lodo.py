"""The 12 overlap features of the shipped head, fitted on the human-labelled pairs instead of rule-made
ones, left one dataset out; beside the shipped head on the same pairs.

For each set: a logistic regression (standardized, balanced classes) on every other set's pairs (the
set's family left out; QAGS-CNNDM and Climate-FEVER never fitted on), scored on the set: AUROC and
balanced accuracy at 0.5. Passages as `fabscore evaluate --evidence` builds them (2,500 pairs a set,
cached under ~/.cache/fabscore/evidence-passages).

    python experiments/verifier/overlap_lodo.py --out experiments/verifier/overlap_lodo.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from fabscore.evidence.checker import load_checker
from fabscore.training.evidence import human_pairs as H
from fabscore.training.evidence import human_passages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--C", type=float, default=0.1)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    pairs = H.load(per_dataset=human_passages.POOL, seed=0)
    _, X = human_passages.build(pairs, log=print)
    ds = np.array([p.dataset for p in pairs])
    fam = np.array([p.family for p in pairs])
    y = np.array([p.label for p in pairs])
    shipped = load_checker().head.predict_proba(X)[:, 1]
    res = {"C": a.C, "sets": {}}
    for held in H.REPORTED:
        te = ds == held
        tr = (fam != fam[te][0]) & ~np.isin(ds, H.EVAL_ONLY)
        sc = StandardScaler().fit(X[tr])
        lr = LogisticRegression(C=a.C, class_weight="balanced", max_iter=3000).fit(sc.transform(X[tr]), y[tr])
        p = lr.predict_proba(sc.transform(X[te]))[:, 1]
        res["sets"][held] = {name: {"auroc": round(float(roc_auc_score(y[te], q)), 4),
                                    "bacc": round(float(balanced_accuracy_score(y[te], q >= 0.5)), 4)}
                             for name, q in (("fitted_on_human_pairs", p), ("shipped_head", shipped[te]))}
        print(held, res["sets"][held], flush=True)
    for name in ("fitted_on_human_pairs", "shipped_head"):
        res[f"mean_auroc_{name}"] = round(float(np.mean([v[name]["auroc"] for v in res["sets"].values()])), 4)
    print({k: v for k, v in res.items() if k.startswith("mean")})
    if a.out:
        a.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
