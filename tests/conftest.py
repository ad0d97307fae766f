"""Shared fixtures: real packaged backbones, a small model the suite trains itself."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEEDS = REPO / "seeds"
SEED_HUMAN = SEEDS / "000_e0349e775a64605f.txt"
SEED_MACHINE = SEEDS / "002_3ca293cc838cf24e.txt"


def small_sample(path: Path, per_label: int, salt: str = "tiny") -> list[dict]:
    """per_label human and per_label machine rows, picked by a hash of the id (stable)."""
    rows = [json.loads(line) for line in path.open()]
    out = []
    for label in ("human", "machine"):
        pool = sorted((r for r in rows if r["label"] == label and 80 <= len(r["text"].split()) <= 400),
                      key=lambda r: hashlib.sha256(f"{salt}:{r['id']}".encode()).hexdigest())
        out += pool[:per_label]
    return out


def shared_file(name: str) -> Path:
    """A file of the shared data folder, or skip the calling test saying what is missing."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"needs the shared data {path} (read-only data beside the repository; "
                    "not part of a clone): skipped, not failed")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that read it skip cleanly when it is absent."""
    return shared_file("llmfake.clean.jsonl").parent


def session_root(tmp_path_factory) -> Path:
    """A folder of this test session that every xdist worker sees (`make test` runs two): the
    session's own temporary root, shared by its workers, never one from an earlier session."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def made_once(tmp_path_factory, name: str):
    """(folder, done): the session-wide folder `name`, under a lock, so one worker makes it and the
    others wait and reuse it; done is True when it was already made (the maker touches NAME.done)."""
    from filelock import FileLock

    root = session_root(tmp_path_factory)
    with FileLock(str(root / f"{name}.lock")):
        yield root / name, (root / f"{name}.done").exists()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A 40-article JSONL from llmfake (real data, read from ../shared)."""
    src = shared_file("llmfake.clean.jsonl")
    out = tmp_path_factory.mktemp("data") / "tiny.jsonl"
    with out.open("w") as f:
        for r in small_sample(src, 20):
            f.write(json.dumps(r) + "\n")
    return out


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory):
    """A fresh feature cache per session, shared by its workers (entries are written atomically);
    FABSCORE_TEST_FEATURE_CACHE names a folder to reuse across sessions instead (entries are keyed
    by featurizer and backbone versions, so a reused cache gives the same features; it only skips
    minutes of recomputing them)."""
    from fabscore.training.fit.feature_cache import FeatureCache

    reuse = os.environ.get("FABSCORE_TEST_FEATURE_CACHE")
    return FeatureCache(Path(reuse) if reuse else session_root(tmp_path_factory) / "features")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_data, feature_cache) -> Path:
    """A model directory trained by the suite with every feature kind and both heads."""
    from fabscore.features import KINDS
    from fabscore.training.train import train

    with made_once(tmp_path_factory, "tiny-model") as (out, done):  # trained once per session, whatever the workers
        if not done:
            train([str(tiny_data)], out, cache=feature_cache, kinds=KINDS, seed=0, name="tiny-test-model",
                  log=lambda *a: None)
            (out.parent / "tiny-model.done").touch()
    return out


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {"human": SEED_HUMAN.read_text(encoding="utf-8"), "machine": SEED_MACHINE.read_text(encoding="utf-8")}


# Fixtures whose first use costs minutes: training the suite's own model (SmolLM2 and MiniLM over
# 40 articles), starting headless Chromium, or loading SmolLM2 in fp32 beside bf16. Every test that uses
# one is slow, whatever its marks,
# so `pytest -m "not slow"` stays the quick subset.
SLOW_FIXTURES = frozenset({"tiny_model_dir", "driver", "lm_dir", "lm_fp32"})


# Tests that start Ray run one at a time, whichever of `make test`'s two processes runs them: a second
# local Ray instance beside the first could attach to it, and one test checks that none is left.
RAY_FILES = frozenset({"test_ray_engine.py", "test_ray_training.py"})


def _starts_ray(item) -> bool:
    return item.path.name in RAY_FILES or (item.path.name == "test_serve.py" and "ray" in item.name)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def one_ray_at_a_time(request, tmp_path_factory):
    """Held for the whole of a test that starts Ray (an autouse fixture is set up before the test's own)."""
    if not _starts_ray(request.node):
        yield
        return
    from filelock import FileLock

    with FileLock(str(session_root(tmp_path_factory) / "ray.lock")):
        yield


# ---------------------------------------------------------------- processes a test starts
def children(pid: int) -> list[int]:
    """Direct child process ids (the worker processes); [] once the process is gone."""
    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def procs():
    """Subprocesses a test starts; always stopped afterwards, by their own ids."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for p in started:
            kids = children(p.pid) if alive(p.pid) else []
            if p.poll() is None:
                p.kill()
                p.wait(10)
            for k in kids:
                if alive(k):
                    os.kill(k, signal.SIGKILL)


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextmanager
def chromium(window: str = "1280,1000"):
    """Headless Chromium from Debian under selenium, with a fresh profile and no network helpers
    (its background connections are refused here); skips where tests/browser_setup.sh has not run."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"{CHROMIUM} / {CHROMEDRIVER} not found: run tests/browser_setup.sh (make test does)")
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fabscore-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={window}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
