"""`--engine ray`: the same records as the local engine, resume across engines, a
two-node cluster on loopback that loses a node mid-run, and an unreachable address.

Every Ray process a test starts is stopped afterwards by its own handles and ids:
the CLI runs in a subprocess (its local Ray instance stops with it, and whatever
survives is killed by pid), and the cluster fixture removes its nodes and kills
any process they left behind."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import alive, children
from test_engines import ROOT, SEEDS, by_id, cli_cmd, jsonl, make_corpus, wait_for_records

ray = pytest.importorskip("ray", reason="the ray extra: pip install 'fabscore[ray]'")


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def run_cli(*argv, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cli_cmd(*argv), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("ray") / "c", 8)


@pytest.fixture(scope="module")
def reference(tiny_model_dir, corpus, tmp_path_factory) -> dict[str, dict]:
    """The records of one process, without workers: what every engine must give."""
    out = tmp_path_factory.mktemp("ref") / "ref.jsonl"
    res = run_cli(corpus, "--model", tiny_model_dir, "--out", out, "--workers", "1")
    assert res.returncode == 0, res.stderr
    return by_id(jsonl(out))


def test_unreachable_address_is_a_usage_error_in_bounded_time(tmp_path):
    out = tmp_path / "o.jsonl"
    t = time.monotonic()
    res = run_cli(*SEEDS, "--model", "fast", "--out", out, "--engine", "ray", "--address", "127.0.0.1:9",
                  timeout=120)
    assert res.returncode == 2 and "cannot reach the Ray cluster at 127.0.0.1:9" in res.stderr, res.stderr
    assert time.monotonic() - t < 60 and not out.exists()


def test_address_without_ray_engine_is_a_usage_error():
    res = run_cli(*SEEDS, "--model", "fast", "--address", "127.0.0.1:6379", timeout=120)
    assert res.returncode == 2 and "--address needs --engine ray" in res.stderr


def interrupted_run(procs, out: Path, *argv, after: int) -> dict[str, dict]:
    """Start a run, Ctrl-C it after `after` records, check it stopped cleanly."""
    proc = subprocess.Popen(cli_cmd(*argv, "--out", out), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    procs.append(proc)
    wait_for_records(out, after, proc, timeout=600)
    kids = descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(120) == 130, proc.stderr.read().decode()[-2000:]
    time.sleep(1)
    left = [k for k in kids if alive(k)]
    for k in left:
        os.kill(k, signal.SIGKILL)
    assert not left, f"processes left running after Ctrl-C: {left}"
    return by_id(jsonl(out))


@pytest.mark.slow
def test_ray_gives_the_local_records_and_resume_works_across_engines(tiny_model_dir, corpus, reference,
                                                                     tmp_path, procs):
    model = ("--model", tiny_model_dir)
    # local workers, interrupted, then finished by Ray
    a = tmp_path / "local-then-ray.jsonl"
    first = interrupted_run(procs, a, corpus, *model, "--workers", "2", after=2)
    assert 2 <= len(first) < 8
    res = run_cli(corpus, *model, "--out", a, "--resume", "--engine", "ray", "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert by_id(jsonl(a)) == reference  # Ray's records are the single process's, and none twice

    # Ray, interrupted, then finished by local workers
    b = tmp_path / "ray-then-local.jsonl"
    first = interrupted_run(procs, b, corpus, *model, "--engine", "ray", "--workers", "2", after=2)
    assert 2 <= len(first) < 8
    res = run_cli(corpus, *model, "--out", b, "--resume", "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert by_id(jsonl(b)) == reference


@pytest.fixture
def loopback_cluster():
    """A head and a second node on 127.0.0.1 (ray.cluster_utils.Cluster, Ray's own
    multi-node test tool), 2 logical CPUs each; always removed afterwards, and any
    process of theirs still alive is killed by its pid."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False, shutdown_at_exit=False,
                      head_node_args={"node_ip_address": "127.0.0.1", "num_cpus": 2, "include_dashboard": False})
    pids: set[int] = set()
    try:
        second = cluster.add_node(node_ip_address="127.0.0.1", num_cpus=2)
        cluster.wait_for_nodes()
        yield cluster, second, pids
    finally:
        for node in [cluster.head_node, *cluster.worker_nodes]:
            for procs in (node.all_processes or {}).values():
                for info in procs:
                    pids.add(info.process.pid)
                    pids.update(descendants(info.process.pid))
        try:
            cluster.shutdown()
        finally:
            time.sleep(1)
            for pid in pids:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_two_node_cluster_scores_40_files_once_while_losing_a_node(tmp_path, procs, loopback_cluster):
    cluster, second, pids = loopback_cluster
    corpus = make_corpus(tmp_path / "c40", 40, words=120)
    out = tmp_path / "o.jsonl"  # the shipped fast model (MiniLM, style): real, and quick to load on 4 actors
    proc = subprocess.Popen(cli_cmd(corpus, "--model", "fast", "--out", out, "--engine", "ray",
                                    "--address", cluster.address), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    procs.append(proc)
    wait_for_records(out, 3, proc, timeout=600)
    for info in [i for p in second.all_processes.values() for i in p]:
        pids.update(descendants(info.process.pid))  # its actors, killed at the end if still alive
    cluster.remove_node(second, allow_graceful=False)  # the second node dies mid-run
    assert proc.wait(900) == 0, proc.stderr.read().decode()[-3000:]
    records = by_id(jsonl(out))  # one record per file
    assert len(records) == 40
    # the inputs queued on the lost node are redone on the head: none fails, none is written twice
    assert [r["error"] for r in records.values() if r["label"] == "error"] == []
    assert {r["label"] for r in records.values()} <= {"human", "fabricated", "abstain"}
