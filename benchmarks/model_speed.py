"""Scoring speed of two model directories on the same articles, in one process, interleaved.

    .venv/bin/python benchmarks/model_speed.py --model inference/models/default --baseline OLD_MODEL_DIR

Speeds differ from machine to machine and from one hour to the next on a shared one: only a ratio
measured in one run means anything. Both detectors score the same --n real news articles of
--words words (llmfake and usnews_mar2023 text cut at sentence ends, as benchmarks/run.py makes them)
with the detector's memo off, in --rounds alternating rounds after a warm-up; the median round time
of each and their ratio are printed and written to benchmarks/model_speed.json. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "inference" / "models" / "default"))
    ap.add_argument("--baseline", required=True, help="the model directory to compare against")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--words", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "model_speed.json"))
    args = ap.parse_args()

    import run as bench  # benchmarks/run.py: the same article builder

    from fabscore import model_dir as md
    from fabscore.detector import Detector

    texts = bench.source_texts(bench.SHARED)
    articles = bench.build_articles(texts, args.words, args.n)
    dets = {"model": Detector(md.load(args.model), cache_size=0), "baseline": Detector(md.load(args.baseline), cache_size=0)}
    for d in dets.values():
        d.score(articles[:1])  # warm-up: backbones loaded, first pass done
    times: dict[str, list[float]] = {k: [] for k in dets}
    load_before = os.getloadavg()
    for r in range(args.rounds):
        for name in (("model", "baseline") if r % 2 == 0 else ("baseline", "model")):
            t = time.perf_counter()
            dets[name].score(articles)
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"model": args.model, "baseline": args.baseline,
           "kinds": {k: list(d.kinds) for k, d in dets.items()}, "articles": args.n, "words": args.words,
           "rounds_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
           "median_s": {k: round(v, 2) for k, v in med.items()},
           "model_over_baseline_time": round(med["model"] / med["baseline"], 3),
           "load_average_before": load_before, "load_average_after": os.getloadavg()}
    print(json.dumps(res, indent=1))
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
