"""How many worker processes, and torch threads in each, for `--workers`.

How `--workers auto` decides (measured, see benchmarks/limits.py and docs/scaling.md):
on this project's 2-core machines the grid of processes x torch threads x batch over
bare SmolLM2 passes peaks at one single-threaded process per core (2 x 1 beat 1 x 2
by 17-75%), so auto starts one worker per available core with one thread each, fewer
if memory is short (about WORKER_RAM_BYTES each). Starting workers costs each a
torch import and a model load, so auto scores in this process when fewer than
MIN_INPUTS_PER_WORKER inputs per worker are waiting, or when there is one core.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from fabscore.models.threads import PASS_THREADS

WORKER_RAM_BYTES = 3 * 2**29  # 1.5 GiB: a worker with both backbones peaks near 1 GiB
MIN_INPUTS_PER_WORKER = 4


class EngineError(Exception):
    """The engine cannot run as asked (bad --workers, Ray missing or unreachable): exit 2."""


@dataclass(frozen=True)
class Plan:
    """How many worker processes, and torch threads in each; workers 0: this process.
    Threads are always PASS_THREADS, the count every forward pass runs on anyway, so that a
    record never depends on the number of workers (see fabscore.models.threads)."""

    workers: int
    threads: int
    auto: bool = False


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _available_ram() -> int:
    return psutil.virtual_memory().available


def plan(workers: str | int | None) -> Plan:
    """The --workers value as a Plan: 'auto' (None), or a number of processes
    (1: score in this process, as before; N > 1: N processes sharing the cores)."""
    cores = available_cores()
    if workers in (None, "auto"):
        n = min(cores, max(1, _available_ram() // WORKER_RAM_BYTES))
        return Plan(n if n > 1 else 0, PASS_THREADS, auto=True)
    try:
        n = int(workers)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise EngineError(f"--workers must be 'auto' or a whole number of processes >= 1, got {workers!r}")
    return Plan(0 if n == 1 else n, PASS_THREADS)
