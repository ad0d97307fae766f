"""Where the time of a two-model reading would go: the default's features (one SmolLM2 pass) against
gemma-3-270m's pass over the same 200-word texts, one thread, in one process, interleaved.

    python experiments/two_lm/speed.py        # -> results/speed.json

Also the peak RSS of a process holding both models. Only the ratio means anything: both are timed in
the same run on the same machine.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "rewrites"))

import common  # noqa: E402
from featurize import DEFAULT_KINDS, load_gemma, token_pass  # noqa: E402

from fabscore.features.featurize import featurize_kinds  # noqa: E402
from fabscore.models import backbones  # noqa: E402
from fabscore.training.fit.feature_cache import FeatureCache  # noqa: E402


def peak_rss_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def main() -> None:
    torch.set_num_threads(1)
    cache = FeatureCache()
    texts = [e.text for e in common.l2r_sample(2)][:12]
    arts = [a for a in (cache.prepare(t, common.CHUNK) for t in texts) if a.n_words >= common.MIN_WORDS]
    backbones.load_smollm()
    gemma = load_gemma()
    featurize_kinds(arts[0], DEFAULT_KINDS)
    token_pass(arts[0].norm, *gemma)
    t_s, t_g = [], []
    for i, a in enumerate(arts):
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            t = time.perf_counter()
            if which == 0:
                featurize_kinds(a, DEFAULT_KINDS)
            else:
                token_pass(a.norm, *gemma)
            (t_s if which == 0 else t_g).append(time.perf_counter() - t)
    res = {"texts": len(arts), "words_each": common.CHUNK, "dtype": str(backbones.lm_dtype()),
           "default_features_s_median": round(statistics.median(t_s), 4),
           "gemma_pass_s_median": round(statistics.median(t_g), 4),
           "both_over_default": round((statistics.median(t_s) + statistics.median(t_g)) / statistics.median(t_s), 3),
           "peak_rss_gib_both_models": round(peak_rss_gib(), 3)}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "speed.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
