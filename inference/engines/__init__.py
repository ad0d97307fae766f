"""Where articles are scored: in this process, in local worker processes, or on Ray.

`fabscore score` hands an engine the inputs that still need a record and writes
whatever records come back (in completion order) with its one record writer, so
flushing, `--resume` and one-record-per-input are the CLI's, whatever the engine.

plan.py decides how many workers; worker.py is what runs in each (a process of
pool.py's WorkerPool for local.py, or an actor for ray_engine.py).
"""
from __future__ import annotations

from fabscore.engines.plan import EngineError, Plan, available_cores, plan

ENGINES = ("local", "ray")
__all__ = ["ENGINES", "EngineError", "Plan", "add_engine_arguments", "available_cores", "make_engine", "plan"]


def make_engine(det, engine: str = "local", workers: str | int | None = None, address: str | None = None,
                keep: tuple[str, ...] = (), check=None):
    """The engine named on the command line; EngineError for a bad combination.
    keep: --keep-fields; check: evidence mode's check (local engine, in this process)."""
    if engine == "local":
        if address:
            raise EngineError("--address needs --engine ray")
        from fabscore.engines.local import LocalEngine

        return LocalEngine(det, plan(workers), keep, check)
    if engine == "ray":
        if check is not None:
            raise EngineError("--evidence runs with --engine local (the evidence index stays in this process)")
        from fabscore.engines.ray_engine import RayEngine

        return RayEngine(det, plan(workers), address, keep=keep)
    raise EngineError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")


WORKERS_HELP = ("worker processes (default auto: one single-threaded process per core when there is enough to "
                "score; 1 scores in this process); with --engine ray, the number of actors")


def add_engine_arguments(p, workers_help: str = WORKERS_HELP) -> None:
    """--workers, --engine, --address: shared by `fabscore score` and `fabscore train`."""
    p.add_argument("--workers", default="auto", metavar="N", help=workers_help)
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local (default): processes on this machine; ray: a Ray cluster (needs fabscore[ray])")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --engine ray: the cluster's address (host:port); default: start Ray locally")
