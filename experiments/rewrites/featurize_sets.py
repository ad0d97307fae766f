"""Fill the feature cache for the samples (SmolLM2 token statistics, lmdist, style, lmword, lex).

    nice -n 10 .venv/bin/python experiments/rewrites/featurize_sets.py [SET...] [--workers 2]

SET: mix l2r l2rc pp glimpse lfrw (common.py; all by default). Whole stories go in hash order, so any
prefix of an interrupted run is a balanced sample of pairs and domains; what is cached is skipped.
On 2 cores a text takes about 1.5 s (one SmolLM2 pass over 200 words).
"""
from __future__ import annotations

import argparse
import time

from common import SETS, h, rows

from fabscore.training.fit.feature_cache import FeatureCache, fill

KINDS = ("lmdist", "style", "lmword", "lex")  # and `lm`, whose token statistics the cache keeps beside them
BATCH = 400


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="*", metavar="SET", help=f"some of {' '.join(SETS)} (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if set(args.sets) - set(SETS):
        ap.error(f"unknown sets {' '.join(sorted(set(args.sets) - set(SETS)))}; choose from {' '.join(SETS)}")
    cache = FeatureCache()
    for name in args.sets or SETS:
        rs = rows(name, cache)
        todo = [a for _, a, _, _ in sorted(rs, key=lambda r: h(r[0].group)) if cache.todo(a, KINDS)]
        print(f"{name}: {len(rs)} texts, {len(todo)} to featurize", flush=True)
        t0 = time.time()
        for i in range(0, len(todo), BATCH):
            fill(todo[i:i + BATCH], KINDS, cache, workers=args.workers)
            done = min(i + BATCH, len(todo))
            print(f"  {name} {done}/{len(todo)} {time.time() - t0:.0f}s {done / (time.time() - t0):.2f}/s", flush=True)


if __name__ == "__main__":
    main()
