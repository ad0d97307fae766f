"""Where articles are scored: in this process, in local worker processes, or on Ray.

`fabscore score` hands an engine the inputs that still need a record and writes
whatever records come back (in completion order) with its one record writer, so
flushing, `--resume` and one-record-per-input are the CLI's, whatever the engine.

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
from dataclasses import dataclass, replace
from itertools import chain, islice
from typing import Iterable, Iterator

from .backbones import PASS_THREADS
from .reading import Input

WORKER_RAM_BYTES = 3 * 2**29  # 1.5 GiB: a worker with both backbones peaks near 1 GiB
MIN_INPUTS_PER_WORKER = 4
ENGINES = ("local", "ray")


class EngineError(Exception):
    """The engine cannot run as asked (bad --workers, Ray missing or unreachable): exit 2."""


@dataclass(frozen=True)
class Plan:
    """How many worker processes, and torch threads in each; workers 0: this process.
    Threads are always PASS_THREADS, the count every forward pass runs on anyway, so that a
    record never depends on the number of workers (see backbones.pass_threads)."""

    workers: int
    threads: int
    auto: bool = False


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _available_ram() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def plan(workers: str | int | None) -> Plan:
    """The --workers value as a Plan: 'auto' (None), or a number of processes
    (1: score in this process, as before; N > 1: N processes sharing the cores)."""
    cores = available_cores()
    if workers in (None, "auto"):
        ram = _available_ram()
        n = min(cores, max(1, ram // WORKER_RAM_BYTES)) if ram else cores
        return Plan(n if n > 1 else 0, PASS_THREADS, auto=True)
    try:
        n = int(workers)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise EngineError(f"--workers must be 'auto' or a whole number of processes >= 1, got {workers!r}")
    return Plan(0 if n == 1 else n, PASS_THREADS)


# ---------------------------------------------------------------- in a worker process
def input_record(inp: Input, det, keep: tuple[str, ...] = (), check=None) -> dict:
    """The record of one input (Detector.record: the same record the Python API returns);
    keep: --keep-fields (absent columns come back null); check: evidence mode's check, or None."""
    fields = inp.fields if inp.fields is not None else (dict.fromkeys(keep) if keep else None)
    return det.record(inp.text, path=inp.path, id=inp.id, error=inp.error, text_field=inp.text_field,
                      fields=fields, check=check)


_DETECTOR = None
_KEEP: tuple[str, ...] = ()


def init_scorer(model_path: str, fpr: float, keep: tuple[str, ...] = ()) -> None:
    """Worker initializer: the detector and its backbones, loaded once per process."""
    global _DETECTOR, _KEEP
    _KEEP = tuple(keep)
    from . import backbones
    from .detector import Detector
    from .features import uses_lm
    from .model_dir import load

    _DETECTOR = Detector(load(model_path), fpr=fpr)
    if uses_lm(_DETECTOR.kinds):
        backbones.load_smollm()
    if "embed" in _DETECTOR.kinds:
        enc = _DETECTOR.model.encoder
        backbones.load_minilm_weights(enc) if enc else backbones.load_minilm()


def score_input(inp: Input) -> dict:
    """One input's record, by the worker's detector."""
    return input_record(inp, _DETECTOR, _KEEP)


def died_record(inp: Input, det, why: Exception, keep: tuple[str, ...] = ()) -> dict:
    """The error record of an input whose worker died (or failed outside `input_record`)."""
    return input_record(replace(inp, text=None, error=f"scoring failed: {type(why).__name__}: {why}"), det, keep)


# ---------------------------------------------------------------- the local engine
class LocalEngine:
    """Scores in this process (plan.workers 0) or in a WorkerPool of plan.workers processes."""

    name = "local"

    def __init__(self, det, plan: Plan, keep: tuple[str, ...] = (), check=None):
        self.det, self.plan, self.keep, self.check = det, plan, tuple(keep), check
        self.pool = None
        self.used_workers = 0  # what the run actually used (0: this process)

    def records(self, inputs: Iterable[Input]) -> Iterator[dict]:
        """One record per input, in completion order; inputs are read lazily."""
        inputs = iter(inputs)
        n = self.plan.workers if self.check is None else 0  # evidence mode scores in this process
        if n and self.plan.auto:  # few inputs: starting workers would cost more than it saves
            head = list(islice(inputs, n * MIN_INPUTS_PER_WORKER))
            if len(head) < n * MIN_INPUTS_PER_WORKER:
                n = 0
            inputs = chain(head, inputs)
        if not n:
            for inp in inputs:
                yield input_record(inp, self.det, self.keep, self.check)
            return
        from .pool import WorkerPool

        self.used_workers = n
        ready: list[dict] = []

        def to_workers() -> Iterator[Input]:  # unreadable inputs need no worker
            for inp in inputs:
                if inp.error is not None:
                    ready.append(input_record(inp, self.det, self.keep))
                else:
                    yield inp

        self.pool = WorkerPool(score_input, n, init=init_scorer,
                               initargs=(str(self.det.model.path), self.det.fpr, self.keep),
                               threads=self.plan.threads)
        try:
            for inp, rec in self.pool.imap_unordered(to_workers()):
                while ready:
                    yield ready.pop(0)
                yield rec if isinstance(rec, dict) else died_record(inp, self.det, rec, self.keep)
            while ready:
                yield ready.pop(0)
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def describe(self) -> str:
        return f"{self.used_workers} worker processes x {self.plan.threads} thread" if self.used_workers else \
            "this process"


def make_engine(det, engine: str = "local", workers: str | int | None = None, address: str | None = None,
                keep: tuple[str, ...] = (), check=None):
    """The engine named on the command line; EngineError for a bad combination.
    keep: --keep-fields; check: evidence mode's check (local engine, in this process)."""
    if engine == "local":
        if address:
            raise EngineError("--address needs --engine ray")
        return LocalEngine(det, plan(workers), keep, check)
    if engine == "ray":
        if check is not None:
            raise EngineError("--evidence runs with --engine local (the evidence index stays in this process)")
        from .ray_engine import RayEngine

        return RayEngine(det, plan(workers), address, keep=keep)
    raise EngineError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")


def add_engine_arguments(p) -> None:
    """--workers, --engine, --address: shared by `fabscore score` and `fabscore train`."""
    p.add_argument("--workers", default="auto", metavar="N",
                   help="worker processes (default auto: one single-threaded process per core when there is "
                        "enough to score; 1 scores in this process); with --engine ray, the number of actors")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local (default): processes on this machine; ray: a Ray cluster (needs fabscore[ray])")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --engine ray: the cluster's address (host:port); default: start Ray locally")
