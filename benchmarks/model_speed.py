"""Scoring speed of two model directories on the same articles, in one process, interleaved.

    .venv/bin/python benchmarks/model_speed.py --model inference/models/default --baseline OLD_MODEL_DIR
    .venv/bin/python benchmarks/model_speed.py --quick --out /tmp/model_speed.json   # checks that it runs

Speeds differ from machine to machine and from one hour to the next on a shared one: only a ratio
measured in one run means anything. Both detectors score the same --n real news articles of
--words words (llmfake and usnews_mar2023 text cut at sentence ends, as benchmarks/run.py makes them)
with the detector's memo off, in --rounds alternating rounds after a warm-up; the median round time
of each and their ratio are printed and written to benchmarks/model_speed.json. Nothing is asserted.

`--quick`: 2 articles, one round each; without --baseline the model is compared with itself.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import common
from common import build_articles, source_texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory (default: the shipped default model)")
    ap.add_argument("--baseline", default=None,
                    help="the model directory to compare against (required unless --quick: then the model itself)")
    ap.add_argument("--n", type=int, default=None, help="articles (default 12; --quick 2)")
    ap.add_argument("--words", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=None, help="rounds of each model (default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true", help="2 articles, one round: checks that it runs")
    ap.add_argument("--out", default=str(common.BENCHMARKS / "model_speed.json"))
    args = ap.parse_args(argv)
    if args.baseline is None and not args.quick:
        ap.error("--baseline is required (or --quick, which compares the model with itself)")
    n = args.n or (2 if args.quick else 12)
    rounds = args.rounds or (1 if args.quick else 3)

    from fabscore.detector import Detector
    from fabscore.models import directory as md

    model, baseline = md.resolve(args.model), md.resolve(args.baseline or args.model)
    articles = build_articles(source_texts(), args.words, n)
    dets = {"model": Detector(md.load(model), cache_size=0), "baseline": Detector(md.load(baseline), cache_size=0)}
    for d in dets.values():
        d.score(articles[:1])  # warm-up: backbones loaded, first pass done
    times: dict[str, list[float]] = {k: [] for k in dets}
    load_before = os.getloadavg()
    for r in range(rounds):
        for name in (("model", "baseline") if r % 2 == 0 else ("baseline", "model")):
            t = time.perf_counter()
            dets[name].score(articles)
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"model": common.shown(model), "baseline": common.shown(baseline), "quick": args.quick,
           "kinds": {k: list(d.kinds) for k, d in dets.items()}, "articles": n, "words": args.words,
           "rounds_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
           "median_s": {k: round(v, 2) for k, v in med.items()},
           "model_over_baseline_time": round(med["model"] / med["baseline"], 3),
           "load_average_before": load_before, "load_average_after": os.getloadavg()}
    print(json.dumps(res, indent=1))
    common.write_json(args.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
