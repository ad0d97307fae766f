"""Concurrent requests' texts into one stream for the worker pool `fabscore score` uses.

Each request puts its inputs on one queue and waits on a future per input. One dispatcher thread
runs a single long `imap_unordered` over that queue on a persistent `WorkerPool` of single-threaded
worker processes: the same pool, worker function and one-thread rule as `fabscore score --workers`,
so a record from the server is the record the command line writes, bit for bit. Every request's
texts join one stream (continuous micro-batching): a worker that finishes a text takes the next one
queued, whichever request it came from, and a bell on a pipe wakes the pool when a text arrives while
every worker is busy or idle. Workers load the detector once and stay; a worker killed mid-text costs
that text (an error record) and is replaced.

A request whose client went away cancels its futures: inputs not yet handed to a worker are skipped.
"""
from __future__ import annotations

import multiprocessing
import queue
import threading
from concurrent.futures import Future

from fabscore.engines.plan import Plan
from fabscore.engines.pool import PAUSE, WorkerInitError, WorkerPool
from fabscore.engines.worker import died_record, init_scorer, input_record, score_input
from fabscore.io.reading import Input

_STOP = object()


class Batcher:
    """score(inputs) from any thread -> their records, scored by the pool's workers."""

    def __init__(self, det, plan: Plan, engine: str = "local", address: str | None = None):
        """engine 'local': plan.workers processes (WorkerPool); 'ray': Ray actors that stay
        (engines.ray_engine.RayActorPool; a local Ray instance, or the cluster at `address`). Made in the
        main thread: Ray must be started there."""
        self.det = det
        if engine == "ray":
            from fabscore.engines.ray_engine import RayActorPool

            self.pool = RayActorPool(det, plan, address)
        else:
            self.pool = WorkerPool(score_input, plan.workers, init=init_scorer,
                                   initargs=(str(det.model.path), det.fpr, ()), threads=plan.threads)
        self.workers = self.pool.n
        self.queue: queue.Queue = queue.Queue()
        self.bell_r, self.bell_w = multiprocessing.Pipe(duplex=False)  # rung once per queued input
        self.bell_lock = threading.Lock()  # request threads ring it; a Connection is not thread-safe
        self.futures: dict[int, tuple[Input, Future]] = {}  # handed to the pool, by id(input)
        self.failed: str | None = None
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, name="fabscore-batcher", daemon=True)
        self.thread.start()

    def submit(self, inputs: list[Input]) -> list[Future]:
        """One future per input; a readable input is scored by a worker, an unreadable one here."""
        futures = []
        for inp in inputs:
            fut: Future = Future()
            if inp.error is not None or self.failed:
                fut.set_running_or_notify_cancel()
                fut.set_result(input_record(inp, self.det) if inp.error is not None else died_record(
                    inp, self.det, RuntimeError(self.failed)))
            else:
                self.queue.put((inp, fut))
                self._ring()
            futures.append(fut)
        return futures

    def _ring(self) -> None:
        with self.bell_lock:
            self.bell_w.send_bytes(b"")

    def score(self, inputs: list[Input]) -> list[dict]:
        return [f.result() for f in self.submit(inputs)]

    def _feed(self):
        """The pool's source: every live queued input, PAUSE when none is waiting (the pool then waits
        for a result or the bell), ending at close()."""
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                yield PAUSE
                continue
            if item is _STOP:
                return
            inp, fut = item
            if fut.set_running_or_notify_cancel():  # False: its client went away, skip it
                self.futures[id(inp)] = (inp, fut)
                yield inp

    def _loop(self) -> None:
        while not self.stopped:
            try:
                for inp, rec in self.pool.imap_unordered(self._feed(), keep_workers=True, wake=self.bell_r):
                    self.futures.pop(id(inp))[1].set_result(
                        rec if isinstance(rec, dict) else died_record(inp, self.det, rec))
                return  # the feed ended: close() was called
            except WorkerInitError as e:  # the workers cannot start: every text fails with why
                self.failed = f"the scoring workers could not start: {e}"
                why: Exception = RuntimeError(self.failed)
            except Exception as e:  # noqa: BLE001 - the pool broke: the texts in flight fail, a new pool goes on
                why = e
            for inp, fut in self.futures.values():
                if not fut.done():
                    fut.set_result(died_record(inp, self.det, why))
            self.futures.clear()
            if self.failed:
                self._drain(why)
                return

    def _drain(self, why: Exception) -> None:
        """Every input still queued gets an error record (the workers cannot start)."""
        while True:
            try:
                item = self.queue.get(timeout=0.5)
            except queue.Empty:
                if self.stopped:
                    return
                continue
            if item is _STOP:
                return
            inp, fut = item
            if fut.set_running_or_notify_cancel():
                fut.set_result(died_record(inp, self.det, why))

    def close(self) -> None:
        self.stopped = True
        self.queue.put(_STOP)
        self._ring()
        self.thread.join(timeout=30)
        self.pool.close()
