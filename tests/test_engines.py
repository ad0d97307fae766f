"""The local multi-process engine: the same records as one process, one record per
input when a worker dies, Ctrl-C that leaves a resumable output. Real tiny model,
real worker processes (spawned), real signals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import alive, children

from fabscore.cli import commands as cli
from fabscore.engines import EngineError, plan
from fabscore.engines.pool import WorkerDied, WorkerPool

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_id(records: list[dict]) -> dict[str, dict]:
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "an input has more than one record"
    return {r["id"]: r for r in records}


def make_corpus(folder: Path, n: int, words: int = 90) -> Path:
    """n English articles cut from the seeds (different offsets), plus nothing else."""
    text = " ".join(p.read_text(encoding="utf-8") for p in SEEDS).split()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        start = (i * 53) % max(1, len(text) - words)
        (folder / f"a{i:02d}.txt").write_text(" ".join(text[start:start + words]) + ".\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def corpus8(tmp_path_factory) -> Path:
    folder = make_corpus(tmp_path_factory.mktemp("engines") / "c8", 8)
    (folder / "broken.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))  # an unreadable input: an error record
    return folder


def score(argv: list, capsys=None) -> int:
    code = cli.main(["score", *map(str, argv)])
    if capsys is not None:
        capsys.readouterr()
    return code


def cli_cmd(*argv) -> list[str]:
    return [sys.executable, "-m", "fabscore", "score", *map(str, argv)]


def workers_of(pid: int) -> list[int]:
    """The spawned worker processes among pid's children (not multiprocessing's resource tracker)."""
    out = []
    for c in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                out.append(c)
        except OSError:
            pass
    return out


def wait_for_records(out: Path, n: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if out.exists() and out.read_bytes().count(b"\n") >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {n} records: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"no {n} records after {timeout} s")


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"no {what} after {timeout} s")


def wait_for_loaded(pid: int, proc: subprocess.Popen, min_rss: int = 850 * 2**20, timeout: float = 240) -> int:
    """pid, once its resident memory shows the backbones loaded (a scoring worker holds ~1 GiB:
    torch, SmolLM2 in fp32 and MiniLM)."""
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        try:
            rss = next(int(line.split()[1]) * 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            rss = 0
        if rss >= min_rss:
            return pid
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before worker {pid} loaded the models")
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} did not load the models within {timeout} s")


# ---------------------------------------------------------------- the plan
def test_workers_flag_is_checked():
    assert plan("1").workers == 0 and plan(1).workers == 0  # 1: this process, as before
    assert plan("3").workers == 3 and plan("3").threads >= 1
    auto = plan("auto")
    assert auto.auto and auto.threads == 1 and auto.workers in (0, *range(2, 1 + os.cpu_count()))
    for bad in ("0", "-2", "many", "1.5"):
        with pytest.raises(EngineError, match="--workers"):
            plan(bad)


def test_bad_workers_is_a_usage_error(tiny_model_dir, corpus8, capsys):
    assert cli.main(["score", str(corpus8), "--model", str(tiny_model_dir), "--workers", "zero"]) == 2
    assert "--workers must be" in capsys.readouterr().err


# ---------------------------------------------------------------- the pool itself
def _square_or_die(x: int) -> int:
    if x == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 7:
        raise ValueError("seven is bad")
    return x * x


def _fail_init() -> None:
    raise OSError("no model here")


def test_pool_loses_only_the_item_a_killed_worker_held():
    with WorkerPool(_square_or_die, 2, threads=0) as pool:
        out = dict(pool.imap_unordered(range(12)))
        assert pool.started == 3  # the two workers and one replacement
    assert sorted(out) == list(range(12))
    assert isinstance(out[5], WorkerDied) and "SIGKILL" in str(out[5])
    assert isinstance(out[7], ValueError)
    assert all(out[x] == x * x for x in range(12) if x not in (5, 7))


def test_pool_stops_when_workers_cannot_start():
    from fabscore.engines.pool import WorkerInitError

    with pytest.raises(WorkerInitError, match="no model here"):
        with WorkerPool(_square_or_die, 2, init=_fail_init, threads=0) as pool:
            list(pool.imap_unordered(range(4)))


_ORPHAN_SCRIPT = """
import sys, time
from fabscore.engines.pool import WorkerPool
with WorkerPool(abs, 1, threads=0) as pool:
    for _ in pool.imap_unordered([-1]):
        print(pool.pids()[0], flush=True)
        time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_a_worker_leaves_when_its_parent_is_killed():
    """kill -9 of the process that owns a pool: its idle worker exits within seconds instead of
    waiting for work forever (holding its memory and the parent's stderr pipe)."""
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), "the orphaned worker is still running"
    finally:
        parent.kill()
        if 'worker' in locals() and _alive(worker):
            os.kill(worker, signal.SIGKILL)


# ---------------------------------------------------------------- the CLI with workers
@pytest.mark.slow
def test_workers_give_the_records_of_one_process(tiny_model_dir, corpus8, tmp_path, capsys):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert score([corpus8, "--model", tiny_model_dir, "--out", one, "--workers", "1"], capsys) == 0
    assert score([corpus8, "--model", tiny_model_dir, "--out", two, "--workers", "2"], capsys) == 0
    a, b = by_id(jsonl(one)), by_id(jsonl(two))
    assert len(a) == 9 and a == b  # every field, sentences and scores included
    assert a[str(corpus8 / "broken.txt")]["label"] == "error"
    assert sum(r["label"] != "error" for r in a.values()) == 8


@pytest.mark.slow
def test_killed_worker_costs_one_record_and_ctrl_c_resumes(tiny_model_dir, tmp_path, procs):
    n = 24  # enough that the run is still going when Ctrl-C comes, on a fast idle machine too
    corpus = make_corpus(tmp_path / "c", n)
    out = tmp_path / "o.jsonl"
    proc = subprocess.Popen(cli_cmd(corpus, "--model", tiny_model_dir, "--out", out, "--workers", "2"),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.append(proc)
    wait_for_records(out, 1, proc)
    workers = workers_of(proc.pid)
    assert len(workers) == 2
    # kill a worker that has loaded the models (a worker that dies while starting held nothing it had
    # started, so it costs no record: a different path, tested by the pool's own tests)
    victim = wait_for_loaded(workers[0], proc)
    # its memory can show the models before it has told the pool it is ready (then its death would be
    # a death while starting): two more records after that give it time to start taking items
    wait_for_records(out, out.read_bytes().count(b"\n") + 2, proc)
    os.kill(victim, signal.SIGKILL)  # busy: every worker holds an item while inputs remain
    # Ctrl-C only once the death has been recorded: records can come fast enough that a fixed count is
    # reached before the CLI has seen the death, and a Ctrl-C then would stop it first
    wait_for(lambda: b'"label": "error"' in out.read_bytes(), proc, "the killed worker's record")
    wait_for_records(out, out.read_bytes().count(b"\n") + 1, proc)
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the workers stop, the output stays resumable
    assert proc.wait(60) == 130
    assert "rerun with --resume" in proc.stderr.read().decode()
    time.sleep(0.5)
    assert not [w for w in children(proc.pid) + workers if alive(w)]
    first = by_id(jsonl(out))
    died = [r for r in first.values() if r["label"] == "error"]
    assert len(died) == 1 and "WorkerDied" in died[0]["error"] and "SIGKILL" in died[0]["error"]
    assert len(first) < n

    code = subprocess.run(cli_cmd(corpus, "--model", tiny_model_dir, "--out", out, "--workers", "2", "--resume"),
                          cwd=ROOT, capture_output=True, timeout=600).returncode
    assert code == 0
    final = by_id(jsonl(out))  # asserts one record per input
    kept = {k: r for k, r in first.items() if r["label"] != "error"}
    assert len(final) == n and {k: final[k] for k in kept} == kept
    assert sum(r["label"] == "error" for r in final.values()) == 0  # --resume retried the killed worker's input


@pytest.mark.slow
def test_training_featurizes_through_the_same_pool(tmp_path):
    """training.feature_cache.fill with workers > 1 runs in WorkerPool and caches exactly
    what one process computes."""
    import numpy as np

    from fabscore.features.featurize import featurize_kind
    from fabscore.text.sentences import prepare
    from fabscore.training.fit.feature_cache import FeatureCache, fill

    texts = [p.read_text(encoding="utf-8") for p in sorted(make_corpus(tmp_path / "t", 6).glob("*.txt"))]
    articles = [prepare(t) for t in texts]
    cache = FeatureCache(tmp_path / "cache")
    fill(articles, ("style",), cache, workers=2)
    assert all(cache.has("style", a) for a in articles)
    for a in articles:
        cached, direct = cache.get("style", a), featurize_kind(a, "style")
        assert cached is not None and set(cached) == set(direct)
        assert all(np.array_equal(cached[k], direct[k]) for k in direct)


@pytest.mark.slow
def test_python_api_workers_give_the_records_of_one_process_in_input_order(tmp_path):
    """load_detector(workers=...) and score(workers=...) use the command line's pool: the same
    records as one process, in the order given, under the caller's ids; bad inputs stay records."""
    from fabscore import load_detector

    texts = [p.read_text(encoding="utf-8") for p in sorted(make_corpus(tmp_path / "c", 8).glob("*.txt"))]
    texts.insert(3, None)  # not a string: an error record in its place
    ids = [f"doc-{i}" for i in range(len(texts))]
    one = load_detector("fast").score(texts, ids=ids)
    two = load_detector("fast", workers=2).score(texts, ids=ids)
    assert two == one and [r["id"] for r in two] == ids
    assert two[3]["label"] == "error" and sum(r["label"] != "error" for r in two) == 8
    assert load_detector("fast").score(texts[:2], ids=ids[:2], workers="auto") == one[:2]  # few: this process
