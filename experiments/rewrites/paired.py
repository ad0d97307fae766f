"""What a rewrite changes in the features, against its own human original.

    .venv/bin/python experiments/rewrites/paired.py [l2r] [lfrw] [--out-dir DIR]

Pairs a rewrite with the human text it was made from (same story): l2r_rewrites per generator (the
humans of the l2r table), llmfake paraphrase/rewrite per method and generator (llmfake's real humans
in the mix table). Per feature: the mean paired difference in units of the humans' standard deviation
(d), and the share of pairs where the rewrite is higher; features by |d|. Reads the feature tables
(build.py l2r lfrw mix); writes results/paired.json and prints the 14 largest per group.
"""
from __future__ import annotations

import argparse

import extra_features as xf
import numpy as np
from common import RESULTS, dump
from tabs import Tab

from fabscore.features import lex, lm, lmdist, lmword, style

KINDS = ("lmdist", "style", "lm", "lmword", "lmuni", "lment", "lex")
NAMES = {"lmdist": lmdist.LMDIST_FEATURES, "style": style.STYLE_FEATURES, "lm": lm.LM_FEATURES,
         "lmword": lmword.LMWORD_FEATURES, "lmuni": xf.LMUNI_FEATURES, "lment": xf.LMENT_FEATURES,
         "lex": lex.LEX_FEATURES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tables", nargs="*", metavar="TABLE", help="l2r and/or lfrw (default: both)")
    ap.add_argument("--out-dir", default=str(RESULTS))
    args = ap.parse_args()
    if set(args.tables) - {"l2r", "lfrw"}:
        ap.error("TABLE is l2r or lfrw")
    names = [n for k in KINDS for n in NAMES[k]]
    res = {}
    for tname in [t for t in ("l2r", "lfrw") if t in (args.tables or ("l2r", "lfrw"))]:
        tab = Tab(tname)
        X = tab.X(KINDS)
        if tname == "lfrw":
            ht = Tab("mix")
            hm = (ht.y == 0) & (ht.attack == "") & (ht.dataset == "llmfake")
            hX, hid = ht.X(KINDS)[hm], ht.ids[hm]
        else:
            hm = tab.y == 0
            hX, hid = X[hm], tab.ids[hm]
        idx = {i: k for k, i in enumerate(hid)}
        sd = hX.std(0) + 1e-9
        pairs_by: dict[str, list] = {}
        for i in np.flatnonzero(tab.y == 1):
            gid = tab.group[i].split("/", 1)[1]
            if gid in idx:
                key = tab.generator[i] if tname == "l2r" else f"{tab.method[i].split('_')[0]}|{tab.generator[i]}"
                pairs_by.setdefault(key, []).append((i, idx[gid]))
        res[tname] = {}
        for key, pr in sorted(pairs_by.items()):
            D = np.array([(X[i] - hX[j]) / sd for i, j in pr])
            d, up = D.mean(0), (D > 0).mean(0)
            order = np.argsort(-np.abs(d))
            res[tname][key] = {"n_pairs": len(pr),
                               "features": {names[o]: {"d": float(d[o]), "share_up": float(up[o])} for o in order}}
            print(f"\n## {tname} {key}: {len(pr)} pairs; top |d|")
            for o in order[:14]:
                print(f"  {names[o]:28s} d={d[o]:+.2f} up={up[o]:.2f}")
    dump(res, "paired.json", args.out_dir)


if __name__ == "__main__":
    main()
