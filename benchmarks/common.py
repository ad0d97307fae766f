"""What the benchmarks share: paths, offline defaults, the machine, real-news articles, the
backbones' bare-pass inputs, peak memory, and `fabscore score` timed in a child process.

A benchmark runs as `python benchmarks/NAME.py`, which puts this folder on the import path, so
`import common` finds this module; everything else comes from the installed `fabscore`.
Import it before anything that imports transformers: the offline defaults below must be
in the environment when the Hugging Face libraries read it. Nothing here imports torch
at module level (children measure their own start-up).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import psutil

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"  # where the result JSONs live
SHARED = REPO.parent / "shared" / "data"  # the shared data folder beside the repository
SOURCES = ("llmfake.clean.jsonl", "usnews_mar2023_human.clean.jsonl")
SIZES = (300, 1000)  # article lengths in words
GiB = 1024 ** 3


def say(message: str) -> None:
    """A progress line on stderr, with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def shown(path: str | Path) -> str:
    """A path as a result file records it: relative to the repository when inside it."""
    p = Path(path).resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(path)


def write_json(path: str | Path, result: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


# ---------------------------------------------------------------- the machine
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """What the numbers were measured on; without this they mean nothing."""
    import torch

    from fabscore.models import backbones

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "bf16_supported": backbones.bf16_supported(), "lm_dtype": str(backbones.lm_dtype()),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": list(os.getloadavg())}


# ---------------------------------------------------------------- real-news articles
def source_texts(data_dir: Path = SHARED) -> list[str]:
    """Texts of both sources, interleaved, in a stable hash order (no file-order dependence)."""
    pools = []
    for name in SOURCES:
        path = Path(data_dir) / name
        if not path.is_file():
            raise SystemExit(f"bench: {path} is missing (the shared data folder beside the repository)")
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        rows.sort(key=lambda r: hashlib.sha256(f"bench:{r['id']}".encode()).hexdigest())
        pools.append([r["text"] for r in rows])
    out = []
    for i in range(max(map(len, pools))):
        out += [p[i] for p in pools if i < len(p)]
    return out


def cut(text: str, words: int) -> str:
    """The text up to the last sentence end within `words` words (fabscore.text.sentences.head)."""
    from fabscore.text.sentences import head, prepare

    return text[: head(prepare(text), words).sentences[-1].end]


def build_articles(texts: list[str], words: int, n: int, offset: int = 0) -> list[str]:
    """n articles of about `words` words: consecutive real texts joined as paragraphs
    and cut at the sentence end that stays within `words`."""
    out, i = [], offset
    while len(out) < n:
        parts, total = [], 0
        while total < words:
            t = texts[i % len(texts)]
            i += 1
            parts.append(t)
            total += len(t.split())
        out.append(cut("\n\n".join(parts), words))
    return out


def write_folder(folder: Path, articles: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, text in enumerate(articles):
        (folder / f"{k:05d}.txt").write_text(text, encoding="utf-8")
    return folder


def lm_tokens(articles: list[str]) -> int:
    """SmolLM2 tokens of the normalized text the detector scores: the unit of tokens/s."""
    from fabscore.models import backbones
    from fabscore.text.sentences import prepare

    tok, _ = backbones.load_smollm()
    return sum(len(tok(prepare(a).norm, add_special_tokens=False)["input_ids"]) for a in articles)


# ---------------------------------------------------------------- the backbones' bare passes
def _lm_windows(ids: list[int]) -> list[list[int]]:
    """The windows fabscore.features.lm.token_statistics runs, for the same ids."""
    from fabscore.features import lm

    out, start, n = [], 0, len(ids)
    while n > 1:
        stop = min(start + lm.WINDOW, n)
        out.append(ids[start:stop])
        if stop == n:
            break
        start = stop - lm.CONTEXT
    return out


def bare_inputs(articles: list[str], kinds: tuple[str, ...], chunk_words: int) -> dict[str, list]:
    """Token ids of every forward pass the featurizers make on these articles, per
    chunk as the Detector scores them: SmolLM2 windows and MiniLM windows (sentence
    vectors pool the same MiniLM pass). Tokenizing is done here, outside the timed part."""
    from fabscore.features import embed, uses_lm
    from fabscore.features.featurize import sentence_token_index
    from fabscore.models import backbones
    from fabscore.text.sentences import chunks, prepare

    lm_in, art_in = [], []
    for a in articles:
        for piece in chunks(prepare(a), chunk_words):
            text = piece.norm
            if uses_lm(kinds):
                tok, _ = backbones.load_smollm()
                ids = [tok.bos_token_id or tok.eos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]
                lm_in += _lm_windows(ids)
            if "embed" in kinds:
                tok, _ = backbones.load_minilm()
                _, parts = embed.tokenize_article(text, tok, partial(sentence_token_index, piece))
                art_in.append([embed.with_specials(tok, w) for w in parts])
    return {"lm": lm_in, "embed": art_in}


# ---------------------------------------------------------------- memory and CPU of processes
def peak_rss(pid: int | str = "self") -> int:
    """Peak resident bytes of process `pid` (VmHWM); 0 when it is gone or unreadable.

    VmHWM, not getrusage's ru_maxrss: Linux carries a parent's peak across fork + exec into
    ru_maxrss, so a child started by a 4 GiB benchmark would report 4 GiB whatever it used.
    (psutil reports the current RSS only, not this high-water mark.)"""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _busy_seconds() -> float:
    """CPU time every process on the machine has used (user, nice, system, irq, softirq, steal)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def _reaped_seconds() -> float:
    """CPU time of this process's reaped children (and the descendants they waited for)."""
    t = os.times()
    return t.children_user + t.children_system


def _sample_tree(pid: int, peaks: dict[int, int], cpu: dict[int, float]) -> None:
    """Every process of `pid`'s tree: its peak RSS and CPU seconds so far (highest seen)."""
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        return
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        peaks[p.pid] = max(peaks.get(p.pid, 0), peak_rss(p.pid))
        cpu[p.pid] = max(cpu.get(p.pid, 0.0), t.user + t.system)


# ---------------------------------------------------------------- `fabscore score` in a child
def records(path: Path) -> int:
    """Lines in a JSON-lines output written so far (the CLI flushes each record); 0 if absent."""
    try:
        with path.open("rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


WORKER_MIN_BYTES = 200 * 2 ** 20  # a process of the tree this large holds backbones: a worker


def cli_run(folder: Path, out: Path, articles: int, extra: Sequence[str] = (), sample_s: float = 0.2) -> dict:
    """`fabscore score FOLDER --out OUT *extra` in a child process, timed from spawn to exit
    (interpreter start, imports, model load and every article).

    The CLI flushes each record as it is made, so watching the output file also gives the
    start-up (spawn to first record) and the steady rate between the first and the last
    record: what a large folder sees once start-up is amortized. Every `sample_s` the run's
    process tree is sampled: each process's peak RSS (VmHWM) and CPU time. `other_cpu_cores`
    is the CPU that processes outside that tree used meanwhile, in cores (0 = the run had the
    machine to itself; on 2 cores, 1.0 = another job took half of it)."""
    cmd = [sys.executable, "-m", "fabscore", "score", str(folder), "--out", str(out), *extra]
    out.unlink(missing_ok=True)  # a previous run's records would read as this run's first record
    peaks: dict[int, int] = {}
    cpu: dict[int, float] = {}
    load_before, busy0, reaped0 = list(os.getloadavg()), _busy_seconds(), _reaped_seconds()
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        first = last = None
        seen, sampled = 0, float("-inf")
        while True:
            done = proc.poll() is not None
            now = time.perf_counter() - t
            n = records(out)  # read after poll(): once the child is gone this count is final
            if n > seen:
                first = first or (now, n)
                last, seen = (now, n), n
            if done:
                break
            if now - sampled >= sample_s:
                sampled = now
                _sample_tree(proc.pid, peaks, cpu)
            time.sleep(0.02)
        seconds = time.perf_counter() - t
        busy = _busy_seconds() - busy0
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n"
                               f"{err.read().decode(errors='replace')[-2000:]}")
    # the tree's CPU: its processes as last sampled (missing each one's last moments), or what the
    # reaped CLI reports for itself and the descendants it waited for, whichever is larger
    own = max(sum(cpu.values()), _reaped_seconds() - reaped0)
    cli_peak = peaks.get(proc.pid, 0)
    workers = sorted((v for pid, v in peaks.items() if pid != proc.pid and v > WORKER_MIN_BYTES), reverse=True)
    largest = max([cli_peak, *workers])
    res = {"command": " ".join(["fabscore score FOLDER", *extra]), "articles": articles, "records": seen,
           "exit_code": proc.returncode, "seconds": round(seconds, 3), "articles_per_s": round(articles / seconds, 4),
           "startup_to_first_record_s": round(first[0], 3) if first else None}
    if first and last and last[1] > first[1] and last[0] > first[0]:
        res["steady_articles_per_s"] = round((last[1] - first[1]) / (last[0] - first[0]), 4)
    res.update({"peak_rss_bytes": largest, "peak_rss_gib": round(largest / GiB, 3),
                "peak_rss_gib_cli": round(cli_peak / GiB, 3),
                "peak_rss_gib_workers": [round(v / GiB, 3) for v in workers],
                "peak_rss_gib_total": round((cli_peak + sum(workers)) / GiB, 3),
                "cpu_cores_run": round(own / seconds, 3),
                "articles_per_cpu_s": round(articles / own, 4) if own else None,
                "other_cpu_cores": round(max(0.0, busy - own) / seconds, 3),
                "load_average_before": load_before, "load_average_after": list(os.getloadavg())})
    return res
