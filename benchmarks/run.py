"""How fast fabscore scores, how much memory it takes, and how close it gets to the limit.

    make bench                       # = .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --quick --out /tmp/bench.json

Inputs are real news text (llmfake and usnews_mar2023_human, read from the shared
data folder) concatenated and cut at sentence ends into 300- and 1,000-word
articles, written to a temporary folder that is deleted afterwards: no data
enters the repository. Every number is explained in benchmarks/README.md.
Targets are reported, never asserted: the numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import common
import limits
import numpy as np
import torch
from common import SHARED, SIZES, GiB, build_articles, lm_tokens, source_texts, write_folder

from fabscore.models.threads import PASS_THREADS, pass_threads

TARGETS = {"e2e_over_bare": 0.80, "peak_rss_bytes": 2 * GiB, "fast_articles_per_s": 10.0}
# per setting: (full run, --quick); an option given on the command line wins
DEFAULTS = {"n": (20, 2), "rss_n": (1000, 2), "train_n": (50, 2), "rounds": (3, 1)}
QUICK_SIZES = (300,)


# ---------------------------------------------------------------- measurements
@dataclass
class Rate:
    articles: int
    tokens: int
    seconds: float
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"articles": self.articles, "tokens": self.tokens, "seconds": round(self.seconds, 3),
                "articles_per_s": round(self.articles / self.seconds, 3),
                "tokens_per_s": round(self.tokens / self.seconds, 1), **self.extra}


def import_seconds() -> float:
    """Importing numpy and torch in a fresh interpreter: part of every CLI start."""
    code = "import time; t = time.perf_counter(); import numpy, torch; print(time.perf_counter() - t)"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(float(child.stdout.split()[-1]), 3)


def load_times(model: str | None) -> dict:
    """Cold load of each backbone and of the model directory, in this fresh process."""
    from fabscore import load_detector
    from fabscore.models import backbones

    dequantized = (backbones.cache_root() / f"smollm2-{backbones.smollm_info().weights_sha256[:16]}"
                   / "SOURCE_SHA256").is_file()
    out = {"import_torch_s": import_seconds(), "smollm_dequantized_cache_present": dequantized}
    for name, fn in (("smollm_s", backbones.load_smollm), ("minilm_s", backbones.load_minilm),
                     ("model_dir_s", lambda: load_detector(model))):
        t = time.perf_counter()
        fn()
        out[name] = round(time.perf_counter() - t, 3)
    out["total_s"] = round(out["smollm_s"] + out["minilm_s"] + out["model_dir_s"], 3)
    return out


def api_rate(model: str | None, articles: list[str], tokens: int) -> Rate:
    """Detector.score on every article, after one warm-up article (backbones loaded); the memo of
    scored texts is off, or the warm-up article would be a cache hit."""
    from fabscore import load_detector

    det = load_detector(model, cache_size=0)
    det.score(articles[:1])
    t = time.perf_counter()
    res = det.score(articles)
    return Rate(len(articles), tokens, time.perf_counter() - t,
                {"abstained": sum(r["label"] == "abstain" for r in res)})


def _minilm_forward(batch: list[list[int]], model, pad_id: int) -> None:
    from fabscore.features import embed

    ids, mask = embed.pad(batch, pad_id)
    model(input_ids=ids, attention_mask=mask)


def bare_rate(articles: list[str], tokens: int, kinds: tuple[str, ...], chunk_words: int) -> Rate:
    """Only the backbones' forward passes on the same inputs: the ceiling for this tool. On the
    detector's thread count per pass (threads.pass_threads), so both sides do the same work."""
    from fabscore.models import backbones

    inputs = common.bare_inputs(articles, kinds, chunk_words)
    lm_model = backbones.load_smollm()[1] if inputs["lm"] else None
    mtok, mini = backbones.load_minilm() if inputs["embed"] else (None, None)
    with torch.inference_mode(), pass_threads():
        if lm_model is not None:
            lm_model(torch.tensor([inputs["lm"][0]]))  # warm-up
        t = time.perf_counter()
        for w in inputs["lm"]:
            lm_model(torch.tensor([w]))
        t_lm = time.perf_counter() - t
        t = time.perf_counter()
        for batch in inputs["embed"]:
            _minilm_forward(batch, mini, mtok.pad_token_id)
        t_embed = time.perf_counter() - t
    return Rate(len(articles), tokens, t_lm + t_embed,
                {"torch_threads": PASS_THREADS, "lm_forward_s": round(t_lm, 3), "lm_windows": len(inputs["lm"]),
                 "minilm_forward_s": round(t_embed, 3), "minilm_batches": len(inputs["embed"])})


def cli_rate(model: str | None, folder: Path, out: Path, articles: int, tokens: int) -> dict:
    """`fabscore score FOLDER` in a child (common.cli_run), with tokens/s: the CLI's own figures."""
    row = common.cli_run(folder, out, articles, ["--model", model] if model else [])
    rate = Rate(articles, tokens, row.pop("seconds"))
    row.pop("articles_per_s")
    if "steady_articles_per_s" in row:
        row["steady_tokens_per_s"] = round(tokens / articles * row["steady_articles_per_s"], 1)
    return {**rate.as_dict(), **row}


def sample_jsonl(data_dir: Path, per_label: int, path: Path) -> Path:
    """per_label human and machine llmfake rows (80-400 words, hash-chosen) for the training timing."""
    rows = [json.loads(line) for line in (data_dir / "llmfake.clean.jsonl").open(encoding="utf-8")]
    with path.open("w", encoding="utf-8") as f:
        for label in ("human", "machine"):
            pool = sorted((r for r in rows if r["label"] == label and 80 <= len(r["text"].split()) <= 400),
                          key=lambda r: hashlib.sha256(f"bench-train:{r['id']}".encode()).hexdigest())
            for r in pool[:per_label]:
                f.write(json.dumps(r) + "\n")
    return path


def train_times(data: Path, tmp: Path) -> dict:
    """training.train.train on a small sample twice with one fresh cache: the first run
    featurizes every article, the second reads every feature from the cache."""
    from fabscore.features import KINDS
    from fabscore.training.fit.feature_cache import FeatureCache
    from fabscore.training.train import train

    cache = FeatureCache(tmp / "cache")
    out = {}
    for run in ("from_scratch_s", "from_cache_s"):
        t = time.perf_counter()
        train([str(data)], tmp / "model", cache=cache, kinds=KINDS, log=lambda *a: None)  # every kind, as before
        out[run] = round(time.perf_counter() - t, 2)
    out["articles"] = sum(1 for _ in data.open())
    return out


# ---------------------------------------------------------------- the run
RATIOS = {"api_over_bare": ("api", "articles_per_s", "bare"), "cli_over_bare": ("cli", "articles_per_s", "bare"),
          "cli_steady_over_bare": ("cli", "steady_articles_per_s", "bare"),
          "fast_api_over_bare": ("fast_api", "articles_per_s", "fast_bare")}


def one_round(model, fast, arts, tokens, folder, out_stem: Path, kinds, chunk_words, n, say) -> dict:
    """Every path once on the same articles, back to back, so a ratio compares runs
    that saw the same machine load."""
    row = {"cli": cli_rate(model, folder, out_stem.with_suffix(".jsonl"), n, tokens)}
    say(f"cli {row['cli']['articles_per_s']} art/s")
    row["api"] = api_rate(model, arts, tokens).as_dict()
    row["bare"] = bare_rate(arts, tokens, kinds, chunk_words).as_dict()
    say(f"api {row['api']['articles_per_s']} art/s, bare {row['bare']['articles_per_s']} art/s")
    if fast:
        from fabscore.models import directory as md

        fast_cfg = md.load(fast).config
        row["fast_api"] = api_rate(fast, arts, tokens).as_dict()
        row["fast_cli"] = cli_rate(fast, folder, out_stem.with_name(out_stem.name + "-fast.jsonl"), n, tokens)
        row["fast_bare"] = bare_rate(arts, tokens, tuple(fast_cfg["features"]), int(fast_cfg["chunk_words"])).as_dict()
        say(f"fast api {row['fast_api']['articles_per_s']} art/s, "
            f"bare MiniLM {row['fast_bare']['articles_per_s']} art/s")
    for name, (num, key, den) in RATIOS.items():
        if num in row and key in row[num]:
            row[name] = round(row[num][key] / row[den]["articles_per_s"], 3)
    return row


def median_row(rounds: list[dict]) -> dict:
    """Per path, the round with the median rate; per ratio, the median of the rounds'
    paired ratios (this VM's speed drifts by 15% between runs of identical work)."""
    out: dict = {}
    for path in ("cli", "api", "bare", "fast_api", "fast_cli", "fast_bare"):
        runs = sorted((r[path] for r in rounds if path in r), key=lambda d: d["articles_per_s"])
        if runs:
            out[path] = runs[len(runs) // 2]
    for name in RATIOS:
        vals = [r[name] for r in rounds if name in r]
        if vals:
            out[name] = round(float(np.median(vals)), 3)
            out[name + "_rounds"] = vals
    return out


def resolve_model(model: str | None, name: str) -> str:
    from fabscore.models import directory as md

    path = md.resolve(model) if model else md.SHIPPED / name
    if not (path / "config.json").is_file():
        raise SystemExit(f"bench: no model directory at {path}; pass --model DIR (or --fast-model DIR)")
    return str(path)


def settings(args: argparse.Namespace) -> dict:
    """The run's sizes and counts: the full defaults or --quick's, options given win."""
    out = {k: getattr(args, k) or v[bool(args.quick)] for k, v in DEFAULTS.items()}
    out["sizes"] = QUICK_SIZES if args.quick else SIZES
    return out


def run(args: argparse.Namespace) -> dict:
    from fabscore.models import directory as md

    data_dir = Path(args.data_dir)
    model = resolve_model(args.model, "default")
    fast = resolve_model(args.fast_model, "fast") if args.fast_model != "none" else None
    s = settings(args)
    res: dict = {"machine": common.machine(),
                 "settings": {"model": common.shown(model), "fast_model": fast and common.shown(fast),
                              "n": s["n"], "rss_n": s["rss_n"], "rounds": s["rounds"], "sizes": list(s["sizes"]),
                              "train_per_label": s["train_n"], "quick": args.quick},
                 "targets": {"e2e_over_bare": TARGETS["e2e_over_bare"], "peak_rss_gib": 2.0,
                             "fast_articles_per_s": TARGETS["fast_articles_per_s"]}}
    say = common.say
    res["load"] = load_times(model)
    say(f"loaded: {res['load']}")
    cfg = md.load(model).config
    kinds, chunk_words = tuple(cfg["features"]), int(cfg["chunk_words"])
    texts = source_texts(data_dir)
    n = s["n"]
    with tempfile.TemporaryDirectory(prefix="fabscore-bench-") as tmpdir:
        tmp = Path(tmpdir)
        res["sizes"] = {}
        for words in s["sizes"]:
            arts = build_articles(texts, words, n, offset=SIZES.index(words) * 7919)
            tokens = lm_tokens(arts)
            folder = write_folder(tmp / f"w{words}", arts)
            rounds = [one_round(model, fast, arts, tokens, folder, tmp / f"w{words}", kinds, chunk_words, n,
                                lambda m, r=r, w=words: say(f"{w} words, round {r + 1}/{s['rounds']}: {m}"))
                      for r in range(s["rounds"])]
            row = {"mean_words": round(float(np.mean([len(a.split()) for a in arts])), 1), **median_row(rounds),
                   "rounds": rounds}
            res["sizes"][str(words)] = row
        rss_n = s["rss_n"]
        mixed = [a for k in range(rss_n) for a in build_articles(texts, SIZES[k % 2], 1, offset=101 * k + 13)]
        folder = write_folder(tmp / "rss", mixed)
        res["rss_run"] = cli_rate(model, folder, tmp / "rss.jsonl", rss_n, lm_tokens(mixed))
        res["rss_run"]["mean_words"] = round(float(np.mean([len(a.split()) for a in mixed])), 1)
        say(f"rss run: {res['rss_run']['peak_rss_gib']} GiB over {rss_n} articles")
        res["training"] = train_times(sample_jsonl(data_dir, s["train_n"], tmp / "train.jsonl"), tmp / "train")
        say(f"training: {res['training']}")
    if not args.no_limits:  # the machine's limit (processes x threads x batch) and --workers/Ray against it
        res["limits"] = limits.run(args, say)
    res["self_peak_rss_gib"] = round(common.peak_rss() / GiB, 3)
    res["machine"]["load_average_at_end"] = list(os.getloadavg())
    return res


def table(res: dict) -> str:
    """The numbers that matter, against their targets."""
    lines = [f"machine: {res['machine']['cpu']}, {res['machine']['cores']} cores, torch {res['machine']['torch']} "
             f"({res['machine']['torch_threads']} threads), bf16 {res['machine']['bf16_supported']}",
             f"model load: smollm {res['load']['smollm_s']} s, minilm {res['load']['minilm_s']} s, "
             f"model dir {res['load']['model_dir_s']} s",
             f"load average at start {res['machine']['load_average_at_start'][0]:.1f}, at end "
             f"{res['machine']['load_average_at_end'][0]:.1f} (a busy machine gives lower bounds only)", "",
             f"{'words':>5} {'path':<9} {'art/s':>8} {'tok/s':>9} {'vs bare':>8}"]
    for words, row in res["sizes"].items():
        for name in ("cli", "api", "bare", "fast_cli", "fast_api", "fast_bare"):
            if name in row:
                r = row[name]
                ref = row["fast_bare" if "fast" in name else "bare"]["articles_per_s"]
                ratio = f"{r['articles_per_s'] / ref:.2f}"
                lines.append(f"{words:>5} {name:<9} {r['articles_per_s']:>8.3f} {r['tokens_per_s']:>9.1f} {ratio:>8}")
    lines.append("")
    for words, row in res["sizes"].items():
        steady = row.get("cli_steady_over_bare", 0.0)
        ok = steady >= TARGETS["e2e_over_bare"]
        lines.append(f"target end-to-end >= 80% of bare ({words} words): cli after start-up {steady:.2f}, "
                     f"cli with {row['cli']['startup_to_first_record_s']} s start-up {row['cli_over_bare']:.2f}, "
                     f"api {row['api_over_bare']:.2f} -> {'met' if ok else 'NOT met'} (cli)")
        if "fast_api" in row:
            f = row["fast_api"]["articles_per_s"]
            lines.append(f"target fast mode >= 10 art/s ({words} words): api {f:.2f}, cli (with start-up) "
                         f"{row['fast_cli']['articles_per_s']:.2f} -> "
                         f"{'met' if f >= TARGETS['fast_articles_per_s'] else 'NOT met'} (api)")
    r = res["rss_run"]
    lines.append(f"target peak RSS <= 2 GiB ({r['articles']} articles): {r['peak_rss_gib']} GiB -> "
                 f"{'met' if r['peak_rss_bytes'] <= TARGETS['peak_rss_bytes'] else 'NOT met'}")
    t = res["training"]
    lines.append(f"training on {t['articles']} articles: {t['from_scratch_s']} s from scratch, "
                 f"{t['from_cache_s']} s from cached features")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model directory (default: inference/models/default)")
    p.add_argument("--fast-model", default=None,
                   help="fast-mode model directory (default: inference/models/fast; 'none' to skip)")
    p.add_argument("--n", type=int, default=None, help="articles per size (default 20; --quick 2)")
    p.add_argument("--rss-n", type=int, default=None, help="articles in the RSS run (default 1000; --quick 2)")
    p.add_argument("--train-n", type=int, default=None,
                   help="human and machine articles each for the training timing (default 50; --quick 2)")
    p.add_argument("--out", default=str(common.BENCHMARKS / "results.json"), help="JSON results file")
    p.add_argument("--data-dir", default=str(SHARED), help="folder with the shared .clean.jsonl files")
    p.add_argument("--rounds", type=int, default=None,
                   help="repeat the per-size runs; ratios are medians of the rounds (default 3; --quick 1)")
    p.add_argument("--quick", action="store_true",
                   help="300-word articles only, 2 of them, one round, 2 in the RSS run, 2 + 2 for the training "
                        "timing and limits.py's --quick: checks that the benchmark runs end to end")
    p.add_argument("--no-limits", action="store_true", help="skip benchmarks/limits.py (the grid and --workers/Ray)")
    limits.add_arguments(p, train_flag="--limits-train-n")
    args = p.parse_args(argv)
    res = run(args)
    out = common.write_json(args.out, res)
    print(table(res))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
