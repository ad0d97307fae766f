"""Do the candidate features keep the default's robustness to edits?

    .venv/bin/python experiments/rewrites/attacked_oof.py VARIANT... [--l2r-table l2rc] [--out-dir DIR]

Per variant (variants.py), fitted as exp.py fits it, out of fold (story-grouped 5-fold, the train
recipe): per attack, that attack's machine copies of the news rows against the real news humans
(AUROC, TPR at 1% FPR, share flagged at the out-of-fold 1% threshold), and the attacked human copies
flagged at that threshold. Writes results/attacked_oof.json (attacked_oof.l2rc.json with l2rc).
"""
from __future__ import annotations

import argparse

import exp
import numpy as np
from common import RESULTS, dump
from harness import fit_calibrated
from tabs import brief, fmt
from variants import VARIANTS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", metavar="VARIANT")
    ap.add_argument("--l2r-table", choices=("l2r", "l2rc"), default="l2r")
    ap.add_argument("--out-dir", default=str(RESULTS))
    args = ap.parse_args()
    unknown = [n for n in args.variants if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants: {' '.join(unknown)}")
    d = exp.Data(args.l2r_table)
    res = {}
    for n in args.variants:
        v = VARIANTS[n]
        tr, w, cal = exp.assemble(d, v)
        _, oof, t, _ = fit_calibrated(tr.X(v["kinds"]), tr.y, tr.group, exp.weights(w), cal, v.get("C", 0.3))
        news = tr.dataset != "l2r_rewrites"
        hum = news & (tr.attack == "") & (tr.y == 0)
        res[n] = {}
        for a in sorted(set(tr.attack) - {""}):
            m = news & (tr.attack == a) & (tr.y == 1)
            r = brief(np.r_[np.zeros(hum.sum()), np.ones(m.sum())], np.r_[oof[hum], oof[m]], t)
            ha = news & (tr.attack == a) & (tr.y == 0)
            r["attacked_humans_flagged"] = f"{int((oof[ha] >= t).sum())}/{int(ha.sum())}"
            res[n][a] = r
            print(f"[{n}] {a:14s} {fmt(r)} attacked humans flagged {r['attacked_humans_flagged']}", flush=True)
    dump(res, f"attacked_oof{d.tag}.json", args.out_dir)


if __name__ == "__main__":
    main()
