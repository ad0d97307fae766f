"""The machine's limit, and how close `fabscore score --workers auto` (and Ray) gets to it.

    nice -n 10 .venv/bin/python benchmarks/limits.py --out benchmarks/limits.json
    (also run by benchmarks/run.py as its `limits` section)

1. Bare grid: the SmolLM2 forward passes the default model makes on real 300- and
   1,000-word articles (the same windows as inference/features/lm.py, per 200-word
   chunk: see run.bare_inputs), spread over P spawned processes x T torch threads,
   B windows per forward pass (padded, with an attention mask). Each process loads
   the model and warms up, then all start together (a barrier); the wall time is
   from the barrier to the last process's end. The best configuration is "the
   machine's limit" for that workload.
2. End to end: `fabscore score FOLDER --workers auto` in a child process; the steady
   rate (first record to last) as a share of the best bare configuration's articles/s.
   Peak RSS of the CLI and of every worker (VmHWM sampled from /proc while it runs).
3. Ray: the same folder with `--engine ray --workers N` (a local Ray instance) against
   `--workers N`: steady share, start-up (spawn to first record), overhead per article.

Ratios within one run are what count: this machine is shared (load average recorded).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (benchmarks/run.py: inputs, bare windows, cli timing)

GiB = 1024 ** 3
TARGETS = {"local_share_of_best_bare": 0.85, "ray_over_local": 0.9, "peak_rss_gib_per_worker": 2.0}


# ---------------------------------------------------------------- 1. bare grid
def _grid_worker(windows: list[list[int]], threads: int, batch: int, barrier, out) -> None:
    import torch

    from fabscore import backbones

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
    from fabscore import model_dir as md

    cfg = md.load(None).config
    windows = bench.bare_inputs(articles, tuple(cfg["features"]), int(cfg["chunk_words"]))["lm"]
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


# ---------------------------------------------------------------- 2./3. end to end
def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = [int(c) for c in (task / "children").read_text().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


def _hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def cli_rate(folder: Path, out: Path, n: int, extra: list[str]) -> dict:
    """`fabscore score FOLDER --out FILE *extra` timed as benchmarks/run.cli_run does,
    plus the peak RSS of each process in its tree (sampled every 0.2 s)."""
    cmd = [sys.executable, "-m", "fabscore", "score", str(folder), "--out", str(out), *extra]
    out.unlink(missing_ok=True)
    peaks: dict[int, tuple[str, int]] = {}
    t = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=bench.REPO, stdout=subprocess.DEVNULL, stderr=err)
        first = last = None
        seen, tick = 0, 0.0
        while proc.poll() is None:
            now = time.monotonic() - t
            k = bench._records(out)
            if k > seen:
                first = first or (now, k)
                last, seen = (now, k), k
            if now - tick > 0.2:
                tick = now
                for pid in [proc.pid, *_tree(proc.pid)]:
                    try:
                        name = Path(f"/proc/{pid}/comm").read_text().strip()
                    except OSError:
                        continue
                    peaks[pid] = (name, max(peaks.get(pid, ("", 0))[1], _hwm(pid)))
            time.sleep(0.02)
        seconds = time.monotonic() - t
        k = bench._records(out)
        if k > seen:
            last = (seconds, k)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err.read().decode()[-2000:]}")
    res = {"command": " ".join(["fabscore score FOLDER", *extra]), "articles": n, "records": k,
           "seconds": round(seconds, 2), "articles_per_s": round(n / seconds, 4),
           "startup_to_first_record_s": round(first[0], 2) if first else None}
    if first and last and last[1] > first[1]:
        res["steady_articles_per_s"] = round((last[1] - first[1]) / (last[0] - first[0]), 4)
    workers = {pid: v for pid, v in peaks.items() if pid != proc.pid and v[1] > 200 * 2**20}
    res["peak_rss_gib_cli"] = round(peaks.get(proc.pid, ("", 0))[1] / GiB, 3)
    res["peak_rss_gib_workers"] = sorted((round(v / GiB, 3) for _, v in workers.values()), reverse=True)
    res["peak_rss_gib_total"] = round((peaks.get(proc.pid, ("", 0))[1] + sum(v for _, v in workers.values())) / GiB, 3)
    return res


# ---------------------------------------------------------------- the run
def run(args: argparse.Namespace, say=None) -> dict:
    say = say or (lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True))
    cores = len(os.sched_getaffinity(0))
    configs = [(p, t, b) for p, t, b in product((1, cores), (1, cores), args.batches) if p * t <= cores]
    res: dict = {"load_average_at_start": list(os.getloadavg()), "cores": cores, "targets": TARGETS, "sizes": {}}
    texts = bench.source_texts(Path(args.data_dir))
    with tempfile.TemporaryDirectory(prefix="fabscore-limits-") as tmpdir:
        tmp = Path(tmpdir)
        for k, words in enumerate(bench.SIZES):
            arts = bench.build_articles(texts, words, args.limits_n[k], offset=k * 7919)
            row = grid(arts[: args.grid_n[k]], configs, say)
            folder = bench.write_folder(tmp / f"w{words}", arts)
            row["cli_auto"] = cli_rate(folder, tmp / f"w{words}.jsonl", len(arts), ["--workers", "auto"])
            say(f"{words} words: cli --workers auto {row['cli_auto']}")
            steady = row["cli_auto"].get("steady_articles_per_s")
            row["share_of_best_bare"] = round(steady / row["best"]["articles_per_s"], 3) if steady else None
            row["mean_words"] = round(sum(len(a.split()) for a in arts) / len(arts), 1)
            res["sizes"][str(words)] = row
            say(f"{words} words: steady share of best bare {row['share_of_best_bare']}")
        if args.ray_n:
            arts = bench.build_articles(texts, 300, args.ray_n, offset=4242)
            folder = bench.write_folder(tmp / "ray", arts)
            workers = str(cores)
            local = cli_rate(folder, tmp / "ray-local.jsonl", len(arts), ["--workers", workers])
            say(f"ray comparison, local: {local}")
            ray = cli_rate(folder, tmp / "ray-ray.jsonl", len(arts), ["--engine", "ray", "--workers", workers])
            say(f"ray comparison, ray: {ray}")
            same = _same_records(tmp / "ray-local.jsonl", tmp / "ray-ray.jsonl")
            out = {"articles": len(arts), "words": 300, "local": local, "ray": ray, "same_records": same}
            if local.get("steady_articles_per_s") and ray.get("steady_articles_per_s"):
                out["ray_over_local_steady"] = round(ray["steady_articles_per_s"] / local["steady_articles_per_s"], 3)
                out["ray_overhead_s_per_article"] = round(1 / ray["steady_articles_per_s"]
                                                          - 1 / local["steady_articles_per_s"], 4)
            out["ray_extra_startup_s"] = round(ray["startup_to_first_record_s"] - local["startup_to_first_record_s"], 2)
            res["ray"] = out
    res["load_average_at_end"] = list(os.getloadavg())
    return res


def _same_records(a: Path, b: Path) -> bool:
    def load(p: Path) -> dict:
        return {r["id"]: r for r in map(json.loads, p.read_text(encoding="utf-8").splitlines())}

    return load(a) == load(b)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limits-n", dest="limits_n", type=int, nargs=2, default=[40, 16], metavar=("N300", "N1000"),
                   help="articles in the end-to-end runs at 300 and 1,000 words")
    p.add_argument("--grid-n", type=int, nargs=2, default=[12, 6], metavar=("N300", "N1000"),
                   help="articles whose windows the bare grid runs, at 300 and 1,000 words")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4], help="windows per forward pass in the grid")
    p.add_argument("--ray-n", type=int, default=200, help="articles in the Ray vs local comparison (0: skip)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--data-dir", default=str(bench.SHARED))
    p.add_argument("--out", default=str(bench.REPO / "benchmarks" / "limits.json"))
    args = p.parse_args(argv)
    res = run(args)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    for words, row in res["sizes"].items():
        b = row["best"]
        print(f"{words:>5} words: best bare {b['processes']} proc x {b['threads']} thr x batch {b['batch']} = "
              f"{b['articles_per_s']} art/s; cli --workers auto steady "
              f"{row['cli_auto'].get('steady_articles_per_s')} art/s = {row['share_of_best_bare']} of it "
              f"(target >= {TARGETS['local_share_of_best_bare']}); peak RSS workers {row['cli_auto']['peak_rss_gib_workers']} GiB")
    if "ray" in res:
        r = res["ray"]
        print(f"ray vs local on {r['articles']} articles: {r.get('ray_over_local_steady')} (target >= 0.9), "
              f"extra start-up {r['ray_extra_startup_s']} s, same records {r['same_records']}")
    print(f"load average {res['load_average_at_start']} -> {res['load_average_at_end']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
