"""How far scores move between CPU kinds and thread counts, and what one thread per pass costs.

    .venv/bin/python benchmarks/cpu_kinds.py --out benchmarks/cpu_kinds.json [--n 60]
    .venv/bin/python benchmarks/cpu_kinds.py --quick --out /tmp/cpu_kinds.json   # checks that it runs

1. Scores of the shipped default and fast models on real news (human and machine) in child
   processes capped to each CPU kind this machine can run (AVX2 only: fp32; AVX-512 with bf16:
   bf16; see tests/test_cpu_kinds.py for the caps): per pair of kinds the largest and mean score
   difference and the labels that change at the 1% threshold.
2. Without the one-thread rule (threads.PASS_THREADS set to the thread count), how many texts'
   SmolLM2 token statistics and scores differ between 1 and 2 torch threads in one process.
3. Throughput of scoring in one process (the Python API, `--workers 1`) with every pass on one
   thread against two, in interleaved rounds on the same articles. `--workers auto` already ran
   one single-threaded process per core, so the command line's default is not affected
   (benchmarks/limits.py measures it against the machine's limit).

`--quick`: 2 articles (one human, one machine; their first 150 words) in 1., one of them in 2.
and 3., one round.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from common import SHARED

CAPS = {"avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
        "avx512_bf16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "ATEN_CPU_CAPABILITY": "avx512"}}


def articles(n: int) -> list[dict]:
    """n/2 human (usnews) and n/2 machine (llmfake) articles, in file order."""
    human = [json.loads(line) for line in (SHARED / "usnews_mar2023_human.clean.jsonl").open()][: n // 2]
    machine = [r for r in map(json.loads, (SHARED / "llmfake.clean.jsonl").open()) if r["label"] == "machine"]
    return human + machine[:: max(1, len(machine) // (n - n // 2))][: n - n // 2]


def child_scores(path: str) -> None:
    """In a capped child: each model's scores and labels at 1% on the texts."""
    import torch

    from fabscore import load_detector
    from fabscore.models import backbones

    texts = json.loads(Path(path).read_text())
    out = {"capability": torch.backends.cpu.get_cpu_capability(), "dtype": str(backbones.lm_dtype())}
    for model in ("default", "fast"):
        recs = load_detector(model).score(texts)
        out[model] = [(r["score"], r["label"]) for r in recs]
    print(json.dumps(out))


def by_kind(texts_file: Path) -> dict:
    flags = Path("/proc/cpuinfo").read_text()
    runs = {}
    for kind, caps in CAPS.items():
        if kind == "avx512_bf16" and "avx512_bf16" not in flags:
            continue
        res = subprocess.run([sys.executable, __file__, "child", str(texts_file)], env={**os.environ, **caps},
                             capture_output=True, text=True, check=True)
        runs[kind] = json.loads(res.stdout.strip().splitlines()[-1])
    pairs = {}
    kinds = sorted(runs)
    for i, a in enumerate(kinds):
        for b in kinds[i + 1:]:
            for model in ("default", "fast"):
                d = [abs(x[0] - y[0]) for x, y in zip(runs[a][model], runs[b][model]) if x[0] is not None]
                flips = sum(x[1] != y[1] for x, y in zip(runs[a][model], runs[b][model]))
                pairs[f"{a}|{b}|{model}"] = {"n": len(d), "max_abs_diff": round(max(d), 6),
                                             "mean_abs_diff": round(sum(d) / len(d), 6), "label_changes": flips}
    return {"kinds": {k: {"dtype": v["dtype"], "capability": v["capability"]} for k, v in runs.items()},
            "pairs": pairs}


def threads_without_rule(texts: list[str]) -> dict:
    """Token statistics and default-model scores at 1 and 2 threads with the rule switched off."""
    import numpy as np
    import torch

    from fabscore import load_detector
    from fabscore.features.featurize import featurize_kinds
    from fabscore.models import threads
    from fabscore.text.sentences import prepare

    stats, scores = {}, {}
    for t in (1, 2):
        torch.set_num_threads(t)
        threads.PASS_THREADS = t
        stats[t] = [featurize_kinds(prepare(x), ("lm",))["lm"]["lm_token_stats"] for x in texts]
        scores[t] = [r["score"] for r in load_detector("default").score(texts)]
    threads.PASS_THREADS = 1
    differ = [i for i, (a, b) in enumerate(zip(stats[1], stats[2])) if not np.array_equal(a, b)]
    d = [abs(a - b) for a, b in zip(scores[1], scores[2]) if a is not None]
    return {"n": len(texts), "token_stats_differ": len(differ),
            "max_token_stat_diff": float(max((np.abs(stats[1][i] - stats[2][i]).max() for i in differ), default=0)),
            "scores_differ": sum(x > 0 for x in d), "max_score_diff": round(max(d), 6)}


def throughput(texts: list[str], rounds: int) -> dict:
    """Articles/s of the API in one process, passes on 1 thread vs 2 (interleaved rounds)."""
    import torch

    from fabscore import load_detector
    from fabscore.models import threads

    torch.set_num_threads(2)
    load_detector("default").score(texts[:1])  # load and warm up
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for t in (1, 2):
            threads.PASS_THREADS = t
            det = load_detector("default")  # a new detector: nothing remembered
            t0 = time.perf_counter()
            det.score(texts)
            rates[t].append(len(texts) / (time.perf_counter() - t0))
    threads.PASS_THREADS = 1
    ratios = sorted(a / b for a, b in zip(rates[1], rates[2]))
    return {"articles": len(texts), "rounds": rounds, "articles_per_s_one_thread": rates[1],
            "articles_per_s_two_threads": rates[2], "one_over_two_median": round(ratios[len(ratios) // 2], 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(common.BENCHMARKS / "cpu_kinds.json"))
    ap.add_argument("--n", type=int, default=None, help="articles for the score comparisons (default 60; --quick 2)")
    ap.add_argument("--rounds", type=int, default=None, help="throughput rounds (default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true", help="2 articles (1 in 2. and 3.), 1 round: checks that it runs")
    args = ap.parse_args(argv)
    n = args.n or (2 if args.quick else 60)
    rounds = args.rounds or (1 if args.quick else 3)
    texts = [common.cut(r["text"], 150) if args.quick else r["text"] for r in articles(n)]
    with tempfile.TemporaryDirectory(prefix="fabscore-cpu-kinds-") as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts))
        res = {"machine": {"cpu": common.cpu_name(), "cores": os.cpu_count()}, "quick": args.quick,
               "by_kind": by_kind(texts_file)}
    few = texts[:1] if args.quick else texts[: max(4, n // 5)]
    res["threads_without_rule"] = threads_without_rule(texts[:1] if args.quick else texts)
    res["in_process_throughput"] = throughput(few, rounds)
    print(json.dumps(res, indent=1))
    common.write_json(args.out, res)


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child_scores(sys.argv[2])
    else:
        main()
