"""`fabscore train --engine ray`: featurizing on Ray actors fills the feature cache with
exactly the entries (same keys, same arrays) the local engine writes, and the model
trained from them is the same.

Real rows of the shared data, the real packaged backbones (SmolLM2 for lm, MiniLM for
the sentence labels). The CLI runs in a subprocess whose local Ray instance stops with
it; every process it started (Ray's daemons and actors included) is recorded while it
runs and killed by pid afterwards if still alive, which fails the test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import alive, shared_file, small_sample
from test_engines import ROOT
from test_ray_engine import descendants

pytest.importorskip("ray", reason="the ray extra: pip install 'fabscore[ray]'")


def train_cmd(*argv) -> list[str]:
    return [sys.executable, "-m", "fabscore", "train", *map(str, argv)]


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def run_tracked(cmd: list[str], timeout: float = 1200, grace: float = 15) -> tuple[int, str, list[str]]:
    """Run cmd, remembering every descendant it starts; `grace` seconds after it ends none
    may be left alive (survivors are killed by pid, then the test fails). Returns the exit
    code, stderr, and the command lines of the descendants seen."""
    seen: dict[int, str] = {}
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=devnull, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None:
                for pid in descendants(proc.pid):  # the latest name: a Ray worker is renamed to its actor
                    name = _name(pid)
                    seen[pid] = name if name.strip("?") else seen.get(pid, name)
                if time.monotonic() > deadline:
                    proc.kill()
                    break
                time.sleep(0.2)
            err = proc.stderr.read().decode()
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            end = time.monotonic() + grace
            while time.monotonic() < end and any(alive(p) for p in seen):
                time.sleep(0.5)
            left = {p: seen[p] for p in seen if alive(p)}
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert not left, f"processes left running {grace} s after the run: {left}"
    return code, err, list(seen.values())


def cache_entries(root: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every feature block file of a cache (not the sentence-split cache), by its relative path."""
    out = {}
    for p in sorted(root.rglob("*.npz")):
        rel = p.relative_to(root)
        if rel.parts[0] == "splits":
            continue
        with np.load(p, allow_pickle=False) as z:
            out[str(rel)] = {k: z[k] for k in z.files}
    return out


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> Path:
    """16 real llmfake rows (8 human, 8 machine), chosen by a hash of the id."""
    out = tmp_path_factory.mktemp("raytrain") / "rows.jsonl"
    with out.open("w") as f:
        for r in small_sample(shared_file("llmfake.clean.jsonl"), 8, salt="ray-train"):
            f.write(json.dumps(r) + "\n")
    return out


@pytest.mark.slow
def test_train_on_ray_fills_the_cache_the_local_engine_fills(rows, tmp_path):
    common = ("--data", rows, "--features", "lm,style", "--seed", "0", "--name", "ray-vs-local")
    code, err, started = run_tracked(train_cmd(*common, "--out", tmp_path / "m-local", "--cache",
                                               tmp_path / "c-local", "--workers", "2"))
    assert code == 0, err[-3000:]
    assert not any("raylet" in c for c in started)
    code, err, started = run_tracked(train_cmd(*common, "--out", tmp_path / "m-ray", "--cache", tmp_path / "c-ray",
                                               "--engine", "ray", "--workers", "2"))
    assert code == 0, err[-3000:]
    assert any("RayFeaturizer" in c for c in started), started  # its actors featurized, on a local Ray instance

    local, ray = cache_entries(tmp_path / "c-local"), cache_entries(tmp_path / "c-ray")
    kinds = {Path(k).parts[0] for k in local}
    assert kinds == {"lm", "style", "sentence_embed"}  # the head's kinds and the sentence labels' embeddings
    assert len(local) == 3 * 16 and set(ray) == set(local)  # the same keys: one file per kind and article
    for key, blocks in local.items():
        assert set(ray[key]) == set(blocks), key
        for name, arr in blocks.items():
            assert arr.dtype == ray[key][name].dtype and np.array_equal(arr, ray[key][name]), (key, name)

    # the same features give the same model: heads, thresholds, metrics
    for f in ("config.json", "article_head.safetensors", "sentence_head.safetensors"):
        a, b = (tmp_path / "m-local" / f), (tmp_path / "m-ray" / f)
        if f == "config.json":
            ca, cb = json.loads(a.read_text()), json.loads(b.read_text())
            ca.pop("command"), cb.pop("command")
            assert ca == cb
        else:
            assert a.read_bytes() == b.read_bytes()


def test_train_address_without_ray_engine_is_a_usage_error(rows, tmp_path):
    res = subprocess.run(train_cmd("--data", rows, "--out", tmp_path / "m", "--features", "style",
                                   "--address", "127.0.0.1:6379"),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "--address needs --engine ray" in res.stderr, res.stderr


def test_train_on_an_unreachable_cluster_is_a_usage_error(rows, tmp_path):
    res = subprocess.run(train_cmd("--data", rows, "--out", tmp_path / "m", "--features", "style",
                                   "--cache", tmp_path / "c", "--engine", "ray", "--address", "127.0.0.1:9"),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "cannot reach the Ray cluster at 127.0.0.1:9" in res.stderr, res.stderr
    assert not (tmp_path / "m").exists()
