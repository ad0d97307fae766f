"""The machine's limit, and how close `fabscore score --workers auto` (and Ray) gets to it.

    nice -n 10 .venv/bin/python benchmarks/limits.py --out benchmarks/limits.json
    (also run by benchmarks/run.py as its `limits` section)

1. Bare grid: the SmolLM2 forward passes the default model makes on real 300- and
   1,000-word articles (the same windows as inference/features/lm.py, per 200-word
   chunk: see common.bare_inputs), spread over P spawned processes x T torch threads,
   B windows per forward pass (padded, with an attention mask). Each process loads
   the model and warms up, then all start together (a barrier); the wall time is
   from the barrier to the last process's end. The best configuration is "the
   machine's limit" for that workload.
2. End to end: `fabscore score FOLDER --workers auto` in a child process; the steady
   rate (first record to last) as a share of the best bare configuration's articles/s,
   that configuration timed again on the same articles the CLI scores.
   Peak RSS of the CLI and of every worker (VmHWM sampled while it runs: common.cli_run).
3. Training (`--sections train`): what `fabscore train --workers N` does first, featurizing
   a sample of llmfake (every k-th article, the 200-word heads training scores) into an
   empty feature cache (fabscore.training.fit.feature_cache.fill, the same WorkerPool as scoring), against
   the best bare configuration (the grid on a few heads picks it) timed on the same heads'
   windows. The steady rate comes from the cache files' modification times (first to last);
   the wall time for all of llmfake is extrapolated from it by words, plus the measured
   splitting time per article.
4. Ray: 200 articles with `--engine ray --workers N` (a local Ray instance) against
   `--workers N`, interleaved (local, Ray, local, Ray, ...: --ray-rounds pairs) so that a
   change in the machine's load hits both alike; per pair the steady ratio, start-up
   (spawn to first record) and overhead per article; the summary is the median pair.

Ratios within one run are what count: this machine is shared. Every end-to-end run
records the load average before and after it and `other_cpu_cores`: the CPU time that
processes outside the run's own process tree used during it, in cores (0 = the run had
the machine to itself; on 2 cores, 1.0 = another job took half of it).

`--quick` checks that it runs: 300-word articles only, 8 of them (the fewest for which `--workers
auto` starts its workers on 2 cores), a grid of one configuration (one single-threaded process per
core, batch 1: how those workers run); 4 articles in the training section, 6 in one Ray pair.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

import common
from common import SHARED, SIZES, build_articles, cli_run, source_texts, write_folder

TARGETS = {"local_share_of_best_bare": 0.85, "train_share_of_best_bare": 0.85, "ray_over_local": 0.9,
           "peak_rss_gib_per_worker": 2.0}
# per setting: (full run, --quick); an option given on the command line wins
DEFAULTS = {"limits_n": ([40, 16], [8, 2]), "grid_n": ([12, 6], [8, 2]), "batches": ([1, 4], [1]),
            "ray_n": (200, 6), "ray_rounds": (2, 1), "limits_train_n": (240, 4)}
QUICK_SIZES = (300,)


# ---------------------------------------------------------------- 1. bare grid
def _grid_worker(windows: list[list[int]], threads: int, batch: int, barrier, out) -> None:
    import torch

    from fabscore.models import backbones

    torch.set_num_threads(threads)
    tok, model = backbones.load_smollm()
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    def forward(group: list[list[int]]) -> None:
        width = max(map(len, group))
        ids = torch.full((len(group), width), pad, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        for r, w in enumerate(group):
            ids[r, : len(w)] = torch.tensor(w)
            mask[r, : len(w)] = 1
        model(input_ids=ids, attention_mask=mask)

    with torch.inference_mode():
        forward(windows[: max(1, batch)])  # warm-up
        barrier.wait()
        t0 = time.monotonic()
        for i in range(0, len(windows), batch):
            forward(windows[i:i + batch])
        out.put((t0, time.monotonic()))


def bare_config(windows: list[list[int]], procs: int, threads: int, batch: int) -> float:
    """Seconds for all windows: P spawned processes, windows sorted by length (so a
    batch pads little) and dealt round-robin by batch, started together."""
    ctx = mp.get_context("spawn")
    ordered = sorted(windows, key=len, reverse=True)
    groups = [ordered[i:i + batch] for i in range(0, len(ordered), batch)]
    shares = [[w for g in groups[p::procs] for w in g] for p in range(procs)]
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=_grid_worker, args=(shares[p], threads, batch, barrier, out)) for p in range(procs)]
    for p in ps:
        p.start()
    times = [out.get(timeout=3600) for _ in ps]
    for p in ps:
        p.join()
    return max(t1 for _, t1 in times) - min(t0 for t0, _ in times)


def grid(articles: list[str], configs: list[tuple[int, int, int]], say) -> dict:
    from fabscore.models import directory as md

    cfg = md.load(None).config
    windows = common.bare_inputs(articles, tuple(cfg["features"]), int(cfg["chunk_words"]))["lm"]
    tokens = sum(map(len, windows))
    rows = []
    for procs, threads, batch in configs:
        s = bare_config(windows, procs, threads, batch)
        rows.append({"processes": procs, "threads": threads, "batch": batch, "seconds": round(s, 3),
                     "tokens_per_s": round(tokens / s, 1), "articles_per_s": round(len(articles) / s, 4)})
        say(f"bare {procs} proc x {threads} thr x batch {batch}: {rows[-1]['tokens_per_s']} tok/s")
    best = max(rows, key=lambda r: r["articles_per_s"])
    return {"windows": len(windows), "window_tokens": tokens, "articles": len(articles), "grid": rows,
            "best": best}


def best_on(articles: list[str], best: dict, say, chunk_words: int | None = None) -> dict:
    """The grid's best configuration timed on every one of these articles: the bare rate of
    exactly the inputs the end-to-end run scores (a few articles' rate differs by 10-20%)."""
    from fabscore.models import directory as md

    cfg = md.load(None).config
    windows = common.bare_inputs(articles, tuple(cfg["features"]), chunk_words or int(cfg["chunk_words"]))["lm"]
    s = bare_config(windows, best["processes"], best["threads"], best["batch"])
    out = {"articles": len(articles), "seconds": round(s, 2), "articles_per_s": round(len(articles) / s, 4),
           "tokens_per_s": round(sum(map(len, windows)) / s, 1)}
    say(f"best bare on all {len(articles)} articles: {out}")
    return out


# ---------------------------------------------------------------- training featurization
def train_featurization(data_dir: Path, n: int, grid_n: int, configs: list[tuple[int, int, int]], cores: int,
                        say) -> dict:
    """`fabscore train`'s featurization of n llmfake articles (every k-th, at least MIN_WORDS
    words) from an empty cache with `cores` workers, as a share of the best bare configuration
    on the first grid_n of the same heads."""
    from fabscore.models import directory as md
    from fabscore.training.data.examples import load
    from fabscore.training.fit.feature_cache import FeatureCache, fill
    from fabscore.training.train import CHUNK_WORDS, MIN_WORDS

    kinds = tuple(md.load(None).config["features"])
    exs = load(str(data_dir / "llmfake.clean.jsonl"))
    step = len(exs) / n
    with tempfile.TemporaryDirectory(prefix="fabscore-train-cache-") as root:
        cache = FeatureCache(root)
        t = time.monotonic()
        arts, heads, k = [], [], 0.0
        while len(arts) < n and int(k) < len(exs):
            text = exs[int(k)].text
            k += step
            art = cache.prepare(text, CHUNK_WORDS)
            if art.n_words >= MIN_WORDS:
                arts.append(art)
                heads.append(text[: art.sentences[-1].end])
        split_s = time.monotonic() - t
        bare = grid(heads[:grid_n], configs, say)  # which configuration is best, on a few heads
        bare["best_on_sample"] = best_on(heads, bare["best"], say, CHUNK_WORDS)  # the same inputs as fill
        load_before, t = list(os.getloadavg()), time.monotonic()
        fill(arts, kinds, cache, workers=cores)
        seconds = time.monotonic() - t
        stamps = sorted(f.stat().st_mtime for f in (Path(root) / "lm").rglob("*.npz"))
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else None
    words = sum(a.n_words for a in arts)
    all_words = sum(min(CHUNK_WORDS, len(e.text.split())) for e in exs)  # heads of every article (an upper bound)
    est = len(exs) * split_s / len(arts) + all_words / (words / seconds)
    row = {"articles": len(arts), "of": len(exs), "kinds": list(kinds), "workers": cores, "head_words": words,
           "split_s": round(split_s, 2), "fill_seconds": round(seconds, 2),
           "articles_per_s": round(len(arts) / seconds, 4),
           "steady_articles_per_s": round(steady, 4) if steady else None, "bare": bare,
           "share_of_best_bare": round(steady / bare["best_on_sample"]["articles_per_s"], 3) if steady else None,
           "estimated_minutes_all_llmfake": round(est / 60, 1),
           "load_average_before": load_before, "load_average_after": list(os.getloadavg())}
    say(f"train featurization: {row['steady_articles_per_s']} articles/s steady = {row['share_of_best_bare']} of "
        f"the best bare; all of llmfake from an empty cache: ~{row['estimated_minutes_all_llmfake']} min")
    return row


# ---------------------------------------------------------------- the run
def settings(args: argparse.Namespace) -> dict:
    """Counts and sizes of this run: the full defaults or --quick's; options given on the command line win."""
    quick = bool(getattr(args, "quick", False))
    out = {k: getattr(args, k, None) or v[quick] for k, v in DEFAULTS.items()}
    if getattr(args, "ray_n", None) == 0:  # 0 skips the Ray comparison
        out["ray_n"] = 0
    out["sizes"] = QUICK_SIZES if quick else SIZES
    out["quick"] = quick
    return out


def run(args: argparse.Namespace, say=common.say) -> dict:
    s = settings(args)
    cores = len(os.sched_getaffinity(0))
    spread = ((cores,), (1,)) if s["quick"] else ((1, cores), (1, cores))  # processes, threads
    configs = [(p, t, b) for p, t, b in product(*spread, s["batches"]) if p * t <= cores]
    res: dict = {"load_average_at_start": list(os.getloadavg()), "cores": cores, "targets": TARGETS,
                 "settings": {**s, "sizes": list(s["sizes"]), "sections": list(args.sections)},
                 "sizes": {}}
    texts = source_texts(Path(args.data_dir))
    with tempfile.TemporaryDirectory(prefix="fabscore-limits-") as tmpdir:
        tmp = Path(tmpdir)
        for words in s["sizes"] if "grid" in args.sections else ():
            k = SIZES.index(words)
            arts = build_articles(texts, words, s["limits_n"][k], offset=k * 7919)
            row = grid(arts[: s["grid_n"][k]], configs, say)  # which configuration is best, on a few articles
            if row["articles"] < len(arts):  # and its rate on the CLI's own inputs
                row["best_on_sample"] = best_on(arts, row["best"], say)
            else:  # the grid ran on all of them
                row["best_on_sample"] = {"articles": len(arts), **{k: row["best"][k] for k in
                                                                   ("seconds", "articles_per_s", "tokens_per_s")}}
            folder = write_folder(tmp / f"w{words}", arts)
            row["cli_auto"] = cli_run(folder, tmp / f"w{words}.jsonl", len(arts), ["--workers", "auto"])
            say(f"{words} words: cli --workers auto {row['cli_auto']}")
            steady = row["cli_auto"].get("steady_articles_per_s")
            row["share_of_best_bare"] = (round(steady / row["best_on_sample"]["articles_per_s"], 3) if steady
                                         else None)
            row["mean_words"] = round(sum(len(a.split()) for a in arts) / len(arts), 1)
            res["sizes"][str(words)] = row
            say(f"{words} words: steady share of best bare {row['share_of_best_bare']}")
        if "train" in args.sections:
            res["train"] = train_featurization(Path(args.data_dir), s["limits_train_n"], s["grid_n"][0], configs,
                                               cores, say)
        if s["ray_n"] and "ray" in args.sections:
            arts = build_articles(texts, 300, s["ray_n"], offset=4242)
            res["ray"] = ray_comparison(write_folder(tmp / "ray", arts), tmp, len(arts), str(cores),
                                        s["ray_rounds"], say)
    res["load_average_at_end"] = list(os.getloadavg())
    return res


def ray_comparison(folder: Path, tmp: Path, n: int, workers: str, rounds: int, say) -> dict:
    """`--workers N` (A) against `--engine ray --workers N` (B) on the same folder,
    interleaved A, B, A, B, ...; the summary figures are the median over the pairs."""
    pairs = []
    for r in range(rounds):
        local = cli_run(folder, tmp / f"ray-local-{r}.jsonl", n, ["--workers", workers])
        say(f"ray comparison {r}, local: {local}")
        try:
            ray = cli_run(folder, tmp / f"ray-ray-{r}.jsonl", n, ["--engine", "ray", "--workers", workers])
        except RuntimeError as e:  # e.g. Ray could not start on an overloaded machine: recorded, not fatal
            say(f"ray comparison {r}, ray failed: {e}")
            pairs.append({"local": local, "ray": {"error": str(e)[-1500:], "load_average": list(os.getloadavg())}})
            continue
        say(f"ray comparison {r}, ray: {ray}")
        pair = {"local": local, "ray": ray,
                "same_records": _same_records(tmp / f"ray-local-{r}.jsonl", tmp / f"ray-ray-{r}.jsonl"),
                "ray_extra_startup_s": round(ray["startup_to_first_record_s"] - local["startup_to_first_record_s"], 2)}
        if local.get("steady_articles_per_s") and ray.get("steady_articles_per_s"):
            pair["ray_over_local_steady"] = round(ray["steady_articles_per_s"] / local["steady_articles_per_s"], 3)
            pair["ray_overhead_s_per_article"] = round(1 / ray["steady_articles_per_s"]
                                                       - 1 / local["steady_articles_per_s"], 4)
        pair["ray_over_local_end_to_end"] = round(ray["articles_per_s"] / local["articles_per_s"], 3)
        if local.get("articles_per_cpu_s") and ray.get("articles_per_cpu_s"):  # CPU cost, start-up included
            pair["ray_over_local_per_cpu_s"] = round(ray["articles_per_cpu_s"] / local["articles_per_cpu_s"], 3)
        pairs.append(pair)

    def med(key: str):
        vals = sorted(p[key] for p in pairs if p.get(key) is not None)
        return round(statistics.median(vals), 4) if vals else None

    return {"articles": n, "words": 300, "workers": int(workers), "rounds": pairs,
            "ray_over_local_steady": med("ray_over_local_steady"),
            "ray_over_local_steady_rounds": [p.get("ray_over_local_steady") for p in pairs],
            "ray_over_local_end_to_end": med("ray_over_local_end_to_end"),
            "ray_over_local_per_cpu_s": med("ray_over_local_per_cpu_s"),
            "ray_extra_startup_s": med("ray_extra_startup_s"),
            "ray_overhead_s_per_article": med("ray_overhead_s_per_article"),
            "same_records": all(p.get("same_records", False) for p in pairs),
            "ray_failed_runs": sum("error" in p["ray"] for p in pairs),
            "other_cpu_cores": [[p["local"]["other_cpu_cores"], p["ray"].get("other_cpu_cores")] for p in pairs],
            "load_average_1min": [[p["local"]["load_average_before"][0],
                                   p["ray"].get("load_average_before", p["ray"].get("load_average", [None]))[0]]
                                  for p in pairs]}


def _same_records(a: Path, b: Path) -> bool:
    def load(p: Path) -> dict:
        return {r["id"]: r for r in map(json.loads, p.read_text(encoding="utf-8").splitlines())}

    return load(a) == load(b)


def add_arguments(p: argparse.ArgumentParser, train_flag: str = "--train-n") -> None:
    """This benchmark's options (run.py adds them too, the training count as --limits-train-n)."""
    p.add_argument("--limits-n", dest="limits_n", type=int, nargs=2, default=None, metavar=("N300", "N1000"),
                   help="articles in the end-to-end runs at 300 and 1,000 words (default 40 16; --quick 8 2)")
    p.add_argument("--grid-n", type=int, nargs=2, default=None, metavar=("N300", "N1000"),
                   help="articles whose windows the bare grid runs, at 300 and 1,000 words (default 12 6; --quick 8 2)")
    p.add_argument("--batches", type=int, nargs="+", default=None,
                   help="windows per forward pass in the grid (default 1 4; --quick 1)")
    p.add_argument("--ray-n", type=int, default=None,
                   help="articles in the Ray vs local comparison (default 200; --quick 6; 0: skip)")
    p.add_argument("--ray-rounds", type=int, default=None,
                   help="interleaved (local, Ray) pairs in the Ray comparison (default 2; --quick 1)")
    p.add_argument(train_flag, dest="limits_train_n", type=int, default=None,
                   help="llmfake articles in the training featurization section (default 240; --quick 4)")
    p.add_argument("--sections", type=lambda v: tuple(v.split(",")), default=("grid", "train", "ray"),
                   help="what to run: grid (the bare grid and --workers auto at both sizes), train (training "
                        "featurization from an empty cache), ray (the comparison)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--data-dir", default=str(SHARED))
    p.add_argument("--out", default=str(common.BENCHMARKS / "limits.json"))
    p.add_argument("--quick", action="store_true", help="a few articles, the smallest grid: checks that it runs")
    args = p.parse_args(argv)
    res = run(args)
    common.write_json(args.out, res)
    for words, row in res["sizes"].items():
        b = row["best"]
        print(f"{words:>5} words: best bare {b['processes']} proc x {b['threads']} thr x batch {b['batch']} = "
              f"{row['best_on_sample']['articles_per_s']} art/s on the CLI's articles; cli --workers auto steady "
              f"{row['cli_auto'].get('steady_articles_per_s')} art/s = {row['share_of_best_bare']} of it "
              f"(target >= {TARGETS['local_share_of_best_bare']}); "
              f"peak RSS workers {row['cli_auto']['peak_rss_gib_workers']} GiB")
    if "train" in res:
        r = res["train"]
        print(f"train featurization of {r['articles']} llmfake heads, {r['workers']} workers, empty cache: steady "
              f"{r['steady_articles_per_s']} art/s = {r['share_of_best_bare']} of the best bare "
              f"(target >= {TARGETS['train_share_of_best_bare']}); all {r['of']} articles: "
              f"~{r['estimated_minutes_all_llmfake']} min (estimated)")
    if "ray" in res:
        r = res["ray"]
        print(f"ray vs local on {r['articles']} articles: steady {r.get('ray_over_local_steady')} (target >= 0.9; "
              f"pairs {r['ray_over_local_steady_rounds']}), end to end {r['ray_over_local_end_to_end']}, "
              f"extra start-up {r['ray_extra_startup_s']} s, same records {r['same_records']}; "
              f"other processes' CPU (local, ray) per pair {r['other_cpu_cores']} cores, "
              f"1-min load before each {r['load_average_1min']}")
    print(f"load average {res['load_average_at_start']} -> {res['load_average_at_end']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
