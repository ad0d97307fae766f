"""The variant comparison tables (markdown) from exp.py's results.

    .venv/bin/python experiments/rewrites/make_tables.py                       # results/tables.md
    .venv/bin/python experiments/rewrites/make_tables.py --l2r-table l2rc      # results/tables.l2rc.md

Rows: the variants named (default: every variant in variants.py, or variants.WITH_COPIES with l2rc)
whose results/exp_VARIANT[.l2rc].json exists, in that order. Prints the tables too.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import RESULTS
from variants import VARIANTS, WITH_COPIES

GENS = ("gpt-4o", "gpt-3.5-turbo", "llama-3-70b", "gemini-1.5-pro")


def f3(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def tables(results: list[tuple[str, dict]]) -> str:
    lines = ["| variant | news CV AUROC / TPR@1% | PolitiFact++ AUROC / TPR@1% / FP at t "
             "| l2r LOGO gpt-4o / gpt-3.5 / llama-3 / gemini | l2r LODO mean (min) | glimpse per generator "
             "| LOO news AUROC aiclf / iu / llmfake |",
             "|---|---|---|---|---|---|---|"]
    for n, r in results:
        cv, pp = r["cv"], r["pp"]
        logo = " / ".join(f3(r["logo"][g]["auroc"]) for g in GENS) if "logo" in r else "-"
        lodo = f"{r['lodo_mean']:.3f} ({r['lodo_min'][0]:.3f} {r['lodo_min'][1]})" if "lodo_mean" in r else "-"
        gl = " / ".join(f3(v["auroc"]) for v in r["glimpse"].values()) if "glimpse" in r else "-"
        loo = " / ".join(f3(r["loo"][d]["auroc"]) for d in ("aiclf_news", "iu_news", "llmfake")) if "loo" in r else "-"
        lines.append(f"| {n} | {f3(cv['auroc'])} / {f3(cv['tpr1'])} | {f3(pp['auroc'])} / {f3(pp['tpr1'])} / "
                     f"{pp['fp_at_t']}/{pp['n_h']} | {logo} | {lodo} | {gl} | {loo} |")
    lines += ["", "Human FPR at the pooled 1% threshold, CV (per source) and leave-one-data-set-out (own threshold), "
              "counts:", "",
              "| variant | CV: aiclf / iu / coaid / gossipcop / politifact / usnews (all) "
              "| LOO: aiclf / iu / llmfake / usnews | l2r humans (CV) |",
              "|---|---|---|---|"]
    for n, r in results:
        cvs = " / ".join(f"{v['fp_at_t']}/{v['n_h']}" for v in r["cv_by_source"].values())
        loo = " / ".join(f"{r['loo'][d]['fp_at_t']}/{r['loo'][d]['n_h']}"
                         for d in ("aiclf_news", "iu_news", "llmfake", "usnews_mar2023_human")) if "loo" in r else "-"
        l2 = r.get("cv_l2r_rewrites")
        l2s = f"{l2['fp_at_t']}/{l2['n_h']}" if l2 else "-"
        lines.append(f"| {n} | {cvs} ({r['cv']['fp_at_t']}/{r['cv']['n_h']}) | {loo} | {l2s} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="*", metavar="VARIANT")
    ap.add_argument("--l2r-table", choices=("l2r", "l2rc"), default="l2r")
    ap.add_argument("--results", default=str(RESULTS), help="where exp.py's JSON is and the table goes")
    args = ap.parse_args()
    tag = "" if args.l2r_table == "l2r" else f".{args.l2r_table}"
    names = args.variants or (list(VARIANTS) if args.l2r_table == "l2r" else list(WITH_COPIES))
    root = Path(args.results)
    results = [(n, json.loads((root / f"exp_{n}{tag}.json").read_text())) for n in names
               if (root / f"exp_{n}{tag}.json").is_file()]
    out = tables(results)
    print(out)
    (root / f"tables{tag}.md").write_text(out + "\n")


if __name__ == "__main__":
    main()
