"""Training on l2r rewrites, and the candidate feature blocks, under every protocol.

    .venv/bin/python experiments/rewrites/exp.py [VARIANT...] [--l2r-table l2rc] [--protocols cv,pp]

VARIANT: names in variants.py (all by default). Reads the feature tables (build.py mix l2r pp glimpse,
and l2rc for --l2r-table l2rc) and writes results/exp_VARIANT.json (exp_VARIANT.l2rc.json with the
copies; exp_VARIANT[.l2rc].PROTOCOL.json when one protocol is asked for). Protocols, all split by story:

  cv      grouped 5-fold CV over the training rows; metrics on the news sets' real rows (the card's
          numbers): AUROC, TPR@1%, per-source human FPR at the pooled out-of-fold 1% threshold (counts)
  pp      fit on everything, score the PolitiFact++ stories not in llmfake (never trained on)
  logo    l2r in 5 story folds: train on news + l2r of the other folds without generator g, test the
          fold's humans against the fold's rewrites by g; pooled over folds (a variant without l2r rows
          scores every l2r row with its one fit)
  lodo    train on news + l2r of the other 19 domains, test the held-out domain
  glimpse fit on everything (glimpse is never trained on), per generator
  loo     leave one news data set out (aiclf, iu_news, llmfake, usnews humans): AUROC, and FPR at the
          held-out model's own 1% threshold

--l2r-table l2rc: the l2r rows trained on include one attacked copy of a hash-chosen half of them;
tests use real rows only.
"""
from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np
from common import RESULTS, dump
from harness import Fit, fit_calibrated, folds
from tabs import Tab, brief, cat, fmt
from variants import VARIANTS

from fabscore.training.eval.metrics import auroc

PROTOCOLS = ("cv", "pp", "logo", "lodo", "glimpse", "loo")
NEWS_SETS = ("aiclf_news", "iu_news", "llmfake", "usnews_mar2023_human")


class Data:
    """The tables every variant is fitted and measured on."""

    def __init__(self, l2r_table: str = "l2r"):
        self.l2r_table = l2r_table
        self.mix, self.l2r, self.pp, self.gli = Tab("mix"), Tab(l2r_table), Tab("pp"), Tab("glimpse")
        self.real = self.l2r.attack == ""  # l2r rows tested on (never an attacked copy)

    @property
    def tag(self) -> str:
        """The result files' suffix."""
        return "" if self.l2r_table == "l2r" else f".{self.l2r_table}"


def l2r_rows(v: dict, tab: Tab) -> np.ndarray:
    """Mask of the l2r rows a variant trains on."""
    m = np.ones(tab.n, bool)
    if v.get("l2r_min_words"):
        m &= tab.n_words >= v["l2r_min_words"]
    if v.get("l2r_cap"):  # whole stories in hash order until cap rows
        order = sorted(set(tab.group[m].tolist()), key=lambda g: hashlib.sha256(g.encode()).hexdigest())
        count = {g: int((tab.group[m] == g).sum()) for g in order}
        keep, n = set(), 0
        for g in order:
            if n >= v["l2r_cap"]:
                break
            keep.add(g)
            n += count[g]
        m &= np.isin(tab.group, list(keep))
    return m


def assemble(d: Data, v: dict, extra_mask=None, gen_out=None, news_mask=None):
    """Training table: news rows (news_mask) + the variant's l2r rows (& extra_mask, without generator
    gen_out), their sample weights and the calibration mask (real news rows)."""
    news = d.mix if news_mask is None else d.mix.sub(news_mask)
    parts, w, cal = [news], [np.ones(news.n)], [news.attack == ""]
    if v.get("l2r"):
        m = l2r_rows(v, d.l2r) & (np.ones(d.l2r.n, bool) if extra_mask is None else extra_mask)
        if gen_out is not None:
            m &= d.l2r.generator != gen_out
        t = d.l2r.sub(m)
        parts.append(t)
        w.append(np.full(t.n, v.get("l2r_w", 1.0)))
        cal.append(np.zeros(t.n, bool))  # auxiliary: never calibrated or thresholded on
    return cat(*parts), np.concatenate(w), np.concatenate(cal)


def weights(w: np.ndarray):
    return None if np.all(w == 1) else w


def run(d: Data, name: str, v: dict, protocols=PROTOCOLS, out_dir=RESULTS) -> dict:
    C, kinds = v.get("C", 0.3), v["kinds"]
    res = {"variant": {k: (list(x) if isinstance(x, tuple) else x) for k, x in v.items()}}
    t0 = time.time()
    tr, w, cal = assemble(d, v)
    fit, oof, t, _ = fit_calibrated(tr.X(kinds), tr.y, tr.group, weights(w), cal, C)
    res["threshold_1pct"] = t
    res["n_train"] = {"rows": int(tr.n), "news_real": int(((tr.dataset != "l2r_rewrites") & (tr.attack == "")).sum()),
                      "l2r": int((tr.dataset == "l2r_rewrites").sum())}
    if "cv" in protocols:
        news = (tr.dataset != "l2r_rewrites") & (tr.attack == "")
        res["cv"] = brief(tr.y[news], oof[news], t)
        res["cv_by_source"] = {s: brief(tr.y[news & (tr.source == s)], oof[news & (tr.source == s)], t)
                               for s in sorted(set(tr.source[news]))}
        m = (tr.dataset == "l2r_rewrites") & (tr.attack == "")
        if m.any():
            res["cv_l2r_rewrites"] = brief(tr.y[m], oof[m], t)
        print(f"[{name}] cv {fmt(res['cv'])}  " + " ".join(f"{s.split(':')[-1]}={r['fp_at_t']}/{r['n_h']}"
                                                        for s, r in res["cv_by_source"].items()), flush=True)
    if "pp" in protocols:
        res["pp"] = brief(d.pp.y, fit.proba(d.pp.X(kinds)), t)
        print(f"[{name}] pp {fmt(res['pp'])}", flush=True)
    if "glimpse" in protocols:
        gli = d.gli
        p = fit.proba(gli.X(kinds))
        res["glimpse"] = {}
        for g in sorted(set(gli.generator[gli.y == 1])):
            s = (gli.y == 0) | (gli.generator == g)
            res["glimpse"][g] = brief(gli.y[s], p[s], t)
        print(f"[{name}] glimpse " + " ".join(f"{g[:14]}={r['auroc']:.3f}" for g, r in res["glimpse"].items()),
              flush=True)
    L2R, REAL = d.l2r, d.real
    XL = L2R.X(kinds)
    if "logo" in protocols:
        gens = sorted(set(L2R.generator[L2R.y == 1]))
        if not v.get("l2r"):
            p = fit.decision(XL)
            res["logo"] = {g: brief(L2R.y[REAL & ((L2R.y == 0) | (L2R.generator == g))],
                                    p[REAL & ((L2R.y == 0) | (L2R.generator == g))]) for g in gens}
        else:
            f = folds(L2R.y, L2R.group, 5, 1)
            dec = {g: np.full(L2R.n, np.nan) for g in gens}
            for k in range(5):
                for g in gens:
                    trk, wk, _ = assemble(d, v, extra_mask=(f != k), gen_out=g)
                    test = REAL & (f == k) & ((L2R.y == 0) | (L2R.generator == g))
                    dec[g][test] = Fit(trk.X(kinds), trk.y, weights(wk), C).decision(XL[test])
            res["logo"] = {g: brief(L2R.y[~np.isnan(dec[g])], dec[g][~np.isnan(dec[g])]) for g in gens}
        print(f"[{name}] logo " + " ".join(f"{g}={r['auroc']:.3f}/{r['tpr1'] or 0:.2f}"
                                           for g, r in res["logo"].items()), flush=True)
    if "lodo" in protocols:
        res["lodo"] = {}
        pbase = None if v.get("l2r") else fit.decision(XL)
        for dom in sorted(set(L2R.domain)):
            test = (L2R.domain == dom) & REAL
            if pbase is not None:
                p = pbase[test]
            else:
                trk, wk, _ = assemble(d, v, extra_mask=L2R.domain != dom)
                p = Fit(trk.X(kinds), trk.y, weights(wk), C).decision(XL[test])
            res["lodo"][dom] = {"auroc": auroc(L2R.y[test], p), "n": int(test.sum())}
        res["lodo_mean"] = float(np.mean([r["auroc"] for r in res["lodo"].values()]))
        res["lodo_min"] = min((r["auroc"], dom) for dom, r in res["lodo"].items())
        lo, dom = res["lodo_min"]
        print(f"[{name}] lodo mean {res['lodo_mean']:.3f} min {lo:.3f} {dom}", flush=True)
    if "loo" in protocols:
        res["loo"] = {}
        MIX = d.mix
        for ds in NEWS_SETS:
            held = MIX.dataset == ds
            trk, wk, calk = assemble(d, v, news_mask=~held)
            fk, _, tk, _ = fit_calibrated(trk.X(kinds), trk.y, trk.group, weights(wk), calk, C)
            te = held & (MIX.attack == "")
            res["loo"][ds] = brief(MIX.y[te], fk.proba(MIX.X(kinds)[te]), tk)
        print(f"[{name}] loo " + " ".join(
            f"{ds[:6]}={'-' if r['auroc'] is None else format(r['auroc'], '.3f')},fp={r['fp_at_t']}/{r['n_h']}"
            for ds, r in res["loo"].items()), flush=True)
    res["seconds"] = time.time() - t0
    one = f".{protocols[0]}" if len(protocols) == 1 else ""
    dump(res, f"exp_{name}{d.tag}{one}.json", out_dir)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="*", metavar="VARIANT", help="default: every variant in variants.py")
    ap.add_argument("--l2r-table", choices=("l2r", "l2rc"), default="l2r",
                    help="l2rc: train on attacked copies of half the l2r rows too")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS), help="some of %(default)s")
    ap.add_argument("--out-dir", default=str(RESULTS), help="where the JSON goes (default %(default)s)")
    args = ap.parse_args()
    protocols = tuple(p for p in args.protocols.split(",") if p)
    unknown = [n for n in args.variants if n not in VARIANTS] + [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        ap.error(f"unknown variants or protocols: {' '.join(unknown)}")
    d = Data(args.l2r_table)
    for name in args.variants or VARIANTS:
        run(d, name, VARIANTS[name], protocols, args.out_dir)


if __name__ == "__main__":
    main()
