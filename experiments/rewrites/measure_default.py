"""Today's shipped default (inference/models/default) on 2024 rewrites and continuations.

    .venv/bin/python experiments/rewrites/measure_default.py [--out-dir DIR]

Reads the feature tables (build.py l2r glimpse pp mix lfrw); every text on its first 200 words,
scored by the model's article head against its stored 1% threshold:

- l2r_rewrites per generator (against all the sample's humans) and per domain (against that
  domain's humans), and per domain x generator;
- glimpse_other per generator and per domain, and per generator within writing and pubmed;
- the PolitiFact++ stories not in llmfake;
- llmfake's paraphrase and rewrite rows per method and generator, out of fold: the default's recipe
  re-fitted in story-grouped 5-fold CV on its own training rows (harness.py), so a story is scored
  only by a model that never saw it, against llmfake's humans out of fold at the CV threshold.

Writes results/default_measure.json and prints the tables.
"""
from __future__ import annotations

import argparse

import numpy as np
from common import RESULTS, dump
from harness import fit_calibrated
from tabs import Tab, brief, default_model, fmt


def table(title: str, tab: Tab, p: np.ndarray, key: str, t: float, against: str = "all") -> dict:
    """Per value of `key` among the machine rows: those rows against all humans ('all') or against
    the humans with the same value ('own')."""
    out = {}
    hum = tab.y == 0
    col = getattr(tab, key)
    print(f"\n## {title}")
    for v in sorted(set(col[tab.y == 1].tolist())):
        sel = (col == v) & (tab.y == 1)
        hsel = hum if against == "all" else hum & (col == v)
        r = brief(np.r_[np.zeros(hsel.sum()), np.ones(sel.sum())], np.r_[p[hsel], p[sel]], t)
        out[v] = r
        print(f"{v:35s} {fmt(r)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=str(RESULTS))
    args = ap.parse_args()
    m = default_model()
    kinds, t = m.kinds, m.threshold(0.01)
    res = {"threshold_1pct": t}

    def score(tab: Tab) -> np.ndarray:
        return m.article_head.predict_proba(tab.X(kinds))[:, 1]

    for name in ("l2r", "glimpse"):
        tab = Tab(name)
        p = score(tab)
        res[name] = {"all": brief(tab.y, p, t)}
        print(f"\n# {name}: {fmt(res[name]['all'])}")
        for key, against in (("generator", "all"), ("domain", "own")):
            res[name][f"by_{key}"] = table(f"{name} by {key} (vs {against} humans)", tab, p, key, t, against)
        if name == "glimpse":
            for dom in ("writing", "pubmed"):
                s = tab.domain == dom
                res[name][f"{dom}_by_generator"] = table(f"glimpse {dom} by generator (vs {dom} humans)",
                                                         tab.sub(s), p[s], "generator", t)
        if name == "l2r":  # per domain x generator
            res[name]["domain_x_generator"] = {}
            for dom in sorted(set(tab.domain)):
                for g in sorted(set(tab.generator[tab.y == 1])):
                    s = (tab.domain == dom) & ((tab.y == 0) | (tab.generator == g))
                    res[name]["domain_x_generator"][f"{dom}|{g}"] = brief(tab.y[s], p[s], t)

    pp = Tab("pp")
    res["politifact_pp_unseen"] = brief(pp.y, score(pp), t)
    print("\n# PolitiFact++ unseen:", fmt(res["politifact_pp_unseen"]))

    # llmfake paraphrase / rewrite, out of fold
    mix, lf = Tab("mix"), Tab("lfrw")
    X, C = mix.X(kinds), m.config["article_head"]["C"]
    aug = mix.attack != ""
    fit, oof, tcv, f = fit_calibrated(X, mix.y, mix.group, calib=~aug, C=C)
    fold_of = dict(zip(mix.group, f))
    models = {}
    for k in range(5):
        tr = f != k
        models[k], _, _, _ = fit_calibrated(X[tr], mix.y[tr], mix.group[tr], calib=~aug[tr], C=C)
    XL = lf.X(kinds)
    plf = np.array([(models[fold_of[g]] if g in fold_of else fit).proba(XL[i:i + 1])[0]
                    for i, g in enumerate(lf.group)])
    lh = (mix.dataset == "llmfake") & (mix.y == 0) & ~aug
    print(f"\n## llmfake paraphrase/rewrite, out of fold, vs {lh.sum()} llmfake humans out of fold; "
          f"CV threshold {tcv:.3f}")
    res["llmfake_oof"] = {"cv_threshold": tcv, "n_in_default_training": int(np.isin(lf.ids, mix.ids).sum()), "by": {}}
    for meth in ("paraphrase_generation", "rewrite_generation"):
        for g in [*sorted(set(lf.generator)), "all"]:
            sel = (lf.method == meth) & ((lf.generator == g) | (g == "all"))
            if not sel.any():
                continue
            r = brief(np.r_[np.zeros(lh.sum()), np.ones(sel.sum())], np.r_[oof[lh], plf[sel]], tcv)
            res["llmfake_oof"]["by"][f"{meth}|{g}"] = r
            print(f"{meth:22s} {g:20s} {fmt(r)}")
    dump(res, "default_measure.json", args.out_dir)


if __name__ == "__main__":
    main()
