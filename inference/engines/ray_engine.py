"""`--engine ray`: score on a Ray cluster with Ray Data; records come back to the driver.

The driver reads the inputs (as the local engine does, so skipping, resume and
unreadable-input errors are the CLI's), hands Ray Data the readable ones in chunks,
and `map_batches` runs them through a pool of actors (ActorPoolStrategy), each of
which loads the detector once. Every record returns to the driver, whose one
record writer flushes it: exactly one record per input, because the driver drops a
record for an input it has already written and writes an error record for an input
whose every attempt died (the actor is restarted and the block retried RETRIES times,
then Ray Data drops that block and the run goes on; the driver tries such inputs
once more in a fresh pass, one input per block, which is what recovers the blocks
queued on a lost node and confines an input that kills its actor to its own record).

Actors get blocks of up to BLOCK inputs per call (RayRunner.block_size), so Ray
Data's per-block work (a task, an object-store round trip, Arrow conversion) is paid
once per block rather than once per input.

Without --address a local Ray instance is started with one logical CPU more than
the actors reserve: with every CPU held by an actor, Ray Data's other tasks never
run and the job hangs (measured on a 2-core machine with Ray 2.60).
"""
from __future__ import annotations

import contextlib
import json
import logging
import socket
import warnings
from collections.abc import Iterable, Iterator

from fabscore.engines.plan import EngineError, Plan
from fabscore.engines.worker import died_record, init_scorer, input_record, score_input
from fabscore.io.reading import Input

CONNECT_TIMEOUT_S = 30.0  # an unreachable --address fails within this
CHUNK = 2000  # inputs per Ray Data dataset: the driver never holds more texts than this
RETRIES = 2  # attempts after an actor dies on a block, before its inputs go to the next pass
SPARE_CPUS = 1  # logical CPUs beyond the actors' on a local instance (Ray Data's own tasks)
IN_FLIGHT = 2  # blocks queued per actor: one worked on, one waiting; a lost node loses no more than that
PASSES = 2  # inputs whose every attempt died in one pass are tried once more, one per block, in a fresh pass
BLOCK = 8  # inputs per block (one map_batches call) in the first pass: fewer per-block round trips
MIN_BLOCKS_PER_ACTOR = 4  # below this many blocks per actor, blocks shrink (a balanced end of the run)
# Ray starts its workers 15 nice levels below the raylet (worker_niceness 15); on a local
# instance the actors are the work, at the niceness of the command, like the local engine's
# workers (observed on this shared machine at load ~19: the two actors of a `nice -n 10` run sat
# at nice 19 and ~10% of a core each). A cluster at --address keeps its own setting
# (`ray start --system-config '{"worker_niceness": 0}'` sets it there).
WORKER_NICENESS = 0
LOCAL_START_ATTEMPTS = 3  # a local instance that fails to start is started again (see _init)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401 - imported for its side effect: ray.data is an attribute only once loaded
    except ImportError as e:
        raise EngineError(f"--engine ray needs Ray: pip install 'fabscore[ray]' ({e})") from e
    return ray


def _loopback(address: str) -> str | None:
    """The host of a loopback address (a cluster on this machine only): the driver must
    then say it is on that address too, or Ray waits for a node on the machine's own IP."""
    host = address.removeprefix("ray://").rpartition(":")[0]
    return host if host in ("127.0.0.1", "localhost") else None


@contextlib.contextmanager
def _keep_loopback():
    """Ray rewrites a loopback --address to this machine's routable IP before it
    connects, but a cluster started with --node-ip-address 127.0.0.1 listens on the
    loopback only (measured: the driver then waits forever). Keep the address as given."""
    from ray._private import services

    rewrite = services.resolve_ip_for_localhost
    services.resolve_ip_for_localhost = lambda host: host
    try:
        yield
    finally:
        services.resolve_ip_for_localhost = rewrite


def _check_reachable(address: str, timeout: float) -> None:
    """A plain TCP connect first: an unreachable host or closed port fails in seconds,
    with a message that names the address (ray.init alone retries for minutes)."""
    if address in ("auto", "local") or address.startswith("ray://"):
        host_port = address[len("ray://"):] if address.startswith("ray://") else None
    else:
        host_port = address
    if not host_port:
        return
    host, _, port = host_port.rpartition(":")
    try:
        port_n = int(port)
    except ValueError:
        raise EngineError(f"--address {address!r} is not host:port") from None
    try:
        with socket.create_connection((host or "127.0.0.1", port_n), timeout=timeout):
            pass
    except OSError as e:
        raise EngineError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from e


def _init(ray, attempts: int = 1, **kwargs) -> None:
    """ray.init in the main thread (Ray installs signal handlers there and exits the
    process when started from another thread); its failures become usage errors.
    attempts: a local instance is started again after a failed start (on a busy machine
    the raylet gives its dashboard agent a fixed 15 s to start, then exits:
    ray-project/ray#65983; measured here at load 11-19 on 2 cores)."""
    for attempt in range(attempts):
        try:
            ray.init(**kwargs)
            return
        except Exception as e:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError from Ray
            with contextlib.suppress(Exception):
                ray.shutdown()  # whatever the failed start left, before the next attempt
            if attempt + 1 == attempts:
                raise EngineError(f"cannot start or join Ray ({kwargs.get('address') or 'local'}"
                                  f"{f', {attempts} attempts' if attempts > 1 else ''}): "
                                  f"{type(e).__name__}: {e}") from e


def set_threads(threads: int) -> None:
    """An actor's torch threads (one per reserved CPU by default)."""
    import torch

    torch.set_num_threads(threads)


def to_payload(inp: Input) -> str:
    """An input as the JSON text that travels to an actor (Arrow strings must be valid UTF-8; JSON
    escapes the lone surrogates that undecodable bytes become)."""
    return json.dumps([inp.path, inp.id, inp.text, inp.text_field, inp.fields])


def score_payload(payload: str) -> str:
    """In an actor: a payload's record, as JSON text."""
    path, iid, text, text_field, fields = json.loads(payload)
    return json.dumps(score_input(Input(path, iid, text=text, text_field=text_field, fields=fields)))


def runner_for(plan: Plan, address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> RayRunner:
    """The Ray connection an engine's plan asks for: on a cluster, --workers actors if given, else every
    CPU but one; locally, the plan's workers (at least one)."""
    explicit = plan.workers if (plan.workers and not plan.auto) else None
    return RayRunner(explicit if address else (plan.workers or 1), plan.threads, address, timeout)


class RayScorer:
    """A Ray Data actor: the detector loaded once, then batches of inputs -> records.
    Inputs and records travel as JSON text (Arrow strings must be valid UTF-8; JSON
    escapes the lone surrogates that undecodable bytes become)."""

    def __init__(self, threads: int, model_path: str, fpr: float, keep: tuple[str, ...] = ()):
        set_threads(threads)
        init_scorer(model_path, fpr, keep)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        records = [score_payload(payload) for payload in batch["input"]]
        return {"key": batch["key"], "output": np.array(records, dtype=object)}


class RayRunner:
    """A Ray connection (a local instance, or a cluster at `address`) and `map`: payloads
    through an actor pool of any actor class, each key answered at most once.

    This is the generic hook other packages use (fabscore.training featurizes through it
    with its own actor class): an actor class takes `threads` as its first constructor
    argument, and its `__call__` maps a numpy batch {"key", "input"} to {"key", "output"}.

    actors: the pool's size (None: every CPU of the cluster but SPARE_CPUS; 1 on a local
    instance, which gets actors + SPARE_CPUS logical CPUs); threads: torch threads per actor
    (each actor reserves one CPU)."""

    def __init__(self, actors: int | None, threads: int, address: str | None, timeout: float = CONNECT_TIMEOUT_S):
        self.address, self.threads = address, threads
        ray = _ray()
        self.ray, self.started_local = ray, False
        quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                     configure_logging=False)
        if address:
            _check_reachable(address, min(timeout, 10.0))
            if _loopback(address):
                with _keep_loopback():
                    _init(ray, address=address, _node_ip_address="127.0.0.1", **quiet)
            else:
                _init(ray, address=address, **quiet)
            cpus = int(ray.cluster_resources().get("CPU", 1))
            # Actors reserve whole CPUs; leave one for Ray Data's own tasks (the read-task deadlock).
            self.actors = actors or max(1, cpus - SPARE_CPUS)
        else:
            self.actors = actors or 1
            _init(ray, LOCAL_START_ATTEMPTS, num_cpus=self.actors + SPARE_CPUS,
                  _system_config={"worker_niceness": WORKER_NICENESS}, **quiet)
            self.started_local = True
        from ray.data import DataContext

        logging.getLogger("ray.data").setLevel(logging.ERROR)  # stderr is for the run's summary and errors
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False
        # a block whose actor died RETRIES+1 times is dropped; its inputs are retried or recorded here
        ctx.max_errored_blocks = -1
        ctx.print_on_execution_start = False

    def block_size(self, n: int) -> int:
        """Inputs per block (per map_batches call): up to BLOCK, fewer when there are too few
        inputs to give every actor MIN_BLOCKS_PER_ACTOR blocks (so the pool stays balanced at the end)."""
        return max(1, min(BLOCK, n // (self.actors * MIN_BLOCKS_PER_ACTOR)))

    def _dataset(self, actor_cls, ctor_args: tuple, items: list[tuple[int, object]], block: int):
        from ray.data import ActorPoolStrategy, from_items

        size = min(self.actors, -(-len(items) // block))
        ds = from_items([{"key": k, "input": v} for k, v in items], override_num_blocks=-(-len(items) // block))
        with warnings.catch_warnings():  # Ray 2.60 names no parameter for an actor's restarts and retries yet
            warnings.simplefilter("ignore")
            return ds.map_batches(
                actor_cls, fn_constructor_args=(self.threads, *ctor_args),
                batch_size=block, batch_format="numpy", num_cpus=1,
                compute=ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=IN_FLIGHT),
                max_restarts=-1, max_task_retries=RETRIES)

    def map(self, actor_cls, ctor_args: tuple, items: list[tuple[int, object]]) -> Iterator[tuple[int, object]]:
        """(key, output) for every item, in completion order; output None for an item whose
        actor died on every attempt in every pass. The first pass hands actors blocks of
        block_size inputs; later passes (what a lost node or a dying block left) one input
        per block, so an input that kills its actor costs only its own output."""
        waiting = dict(items)
        block = self.block_size(len(items))
        for _ in range(PASSES):  # a lost node fails the blocks queued on it: the next pass redoes them
            for row in self._dataset(actor_cls, ctor_args, list(waiting.items()), block).iter_rows():
                if waiting.pop(int(row["key"]), None) is not None:  # a retried block's second answer is dropped
                    yield int(row["key"]), row["output"]
            if not waiting:
                return
            block = 1
        for key in waiting:
            yield key, None

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()  # a local instance stops; a cluster keeps running without this job

    def describe(self) -> str:
        where = self.address or "a local Ray instance"
        return f"up to {self.actors} Ray actors x {self.threads} thread on {where}"


class RayEngine:
    """Ray Data map_batches over an actor pool; the driver writes every record."""

    name = "ray"

    def __init__(self, det, plan: Plan, address: str | None, timeout: float = CONNECT_TIMEOUT_S,
                 keep: tuple[str, ...] = ()):
        self.det, self.address, self.keep = det, address, tuple(keep)
        self.runner = runner_for(plan, address, timeout)
        self.actors, self.threads = self.runner.actors, self.runner.threads

    def records(self, inputs: Iterable[Input]) -> Iterator[dict]:
        from fabscore.engines.pool import WorkerDied

        source = iter(inputs)
        args = (str(self.det.model.path), self.det.fpr, self.keep)
        try:
            while True:
                chunk: dict[int, Input] = {}
                for inp in source:
                    if inp.error is not None:
                        yield input_record(inp, self.det, self.keep)  # unreadable: no actor needed
                        continue
                    chunk[len(chunk)] = inp
                    if len(chunk) >= CHUNK:
                        break
                if not chunk:
                    return
                payloads = [(k, to_payload(i)) for k, i in chunk.items()]
                for key, record in self.runner.map(RayScorer, args, payloads):
                    if record is None:  # its actor died on every attempt, in every pass
                        yield died_record(chunk[key], self.det, WorkerDied(
                            f"the Ray actor scoring it died {PASSES * (RETRIES + 1)} times"), self.keep)
                    else:
                        yield json.loads(record)
        finally:
            self.close()

    def close(self) -> None:
        self.runner.close()

    def describe(self) -> str:
        return self.runner.describe()


class RayActorPool:
    """Long-lived Ray actors with WorkerPool's `imap_unordered(items, keep_workers, wake)` contract, for a
    server that feeds one stream (fabscore.server.batcher): Ray Data starts a fresh actor pool for every
    dataset, which a server would pay per request; these actors load the detector once and stay.

    An item goes to the actor with the fewest in flight (at most IN_FLIGHT each); an actor that dies is
    restarted by Ray (max_restarts), and the item it held comes back as WorkerDied. Actors reserve one
    CPU each, threads as the plan says, and score with the worker's own function, so the records are the
    local pool's."""

    POLL_S = 0.05  # how often a wait on the actors also looks at the bell (Ray cannot wait on a pipe)

    def __init__(self, det, plan: Plan, address: str | None = None, timeout: float = CONNECT_TIMEOUT_S):
        self.runner = runner_for(plan, address, timeout)
        ray = self.runner.ray
        actor = ray.remote(num_cpus=1, max_restarts=-1)(_ServerScorer)
        self.actors = [actor.remote(plan.threads, str(det.model.path), det.fpr) for _ in range(self.runner.actors)]
        self.n = len(self.actors)

    def imap_unordered(self, items: Iterable, keep_workers: bool = True, wake=None) -> Iterator[tuple[object, object]]:
        from fabscore.engines.pool import END, PAUSE, WorkerDied

        ray = self.runner.ray
        source = iter(items)
        inflight: dict = {}  # object ref -> (actor index, item)
        load = [0] * self.n
        exhausted = False
        while True:
            paused = False
            while not paused and not exhausted:
                i = min(range(self.n), key=load.__getitem__)
                if load[i] >= IN_FLIGHT:
                    break
                item = next(source, END)
                if item is END or item is PAUSE:
                    exhausted, paused = item is END, item is PAUSE
                    break
                inflight[self.actors[i].score.remote(to_payload(item))] = (i, item)
                load[i] += 1
            if not inflight:
                if exhausted:
                    return
                if wake is None:
                    raise ValueError("a source that yields PAUSE needs a wake connection")
                wake.poll(None)  # nothing in flight: sleep until a text arrives
            else:
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=None if wake is None else self.POLL_S)
                for ref in ready:
                    i, item = inflight.pop(ref)
                    load[i] -= 1
                    try:
                        yield item, json.loads(ray.get(ref))
                    except ray.exceptions.RayError as e:  # its actor died (Ray restarts it) or the call failed
                        yield item, WorkerDied(f"the Ray actor scoring it failed: {type(e).__name__}")
            if wake is not None:
                while wake.poll():
                    wake.recv_bytes()

    def close(self) -> None:
        for a in self.actors:
            with contextlib.suppress(Exception):
                self.runner.ray.kill(a)
        self.runner.close()


class _ServerScorer(RayScorer):
    """RayScorer with a one-input call, for RayActorPool."""

    def score(self, payload: str) -> str:
        return score_payload(payload)
