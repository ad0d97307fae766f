"""Concurrent requests' texts into one stream for the worker pool `fabscore score` uses.

Each request puts its inputs on one queue and waits on a future per input. One dispatcher thread
takes whatever is queued (every request that arrived while the last batch ran: micro-batching) and
hands it to a persistent `WorkerPool` of single-threaded worker processes, the same pool, worker
function and one-thread rule as `fabscore score --workers`, so a record from the server is the
record the command line writes, bit for bit. Workers load the detector once and stay between
batches; a worker killed mid-text costs that text (an error record) and is replaced.

A request whose client went away cancels its futures: inputs not yet handed to a worker are skipped.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from fabscore.engines.plan import Plan
from fabscore.engines.pool import WorkerInitError, WorkerPool
from fabscore.engines.worker import died_record, init_scorer, input_record, score_input
from fabscore.io.reading import Input

_STOP = object()


class Batcher:
    """score(inputs) from any thread -> their records, scored by `plan.workers` worker processes."""

    def __init__(self, det, plan: Plan):
        self.det = det
        self.plan = plan
        self.pool = WorkerPool(score_input, plan.workers, init=init_scorer,
                               initargs=(str(det.model.path), det.fpr, ()), threads=plan.threads)
        self.queue: queue.Queue = queue.Queue()
        self.batches = 0  # dispatched so far (tests and benchmarks read it)
        self.failed: str | None = None
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
            futures.append(fut)
        return futures

    def score(self, inputs: list[Input]) -> list[dict]:
        return [f.result() for f in self.submit(inputs)]

    def _take(self) -> list | None:
        """Everything queued, waiting for the first; None once stopped."""
        first = self.queue.get()
        if first is _STOP:
            return None
        items = [first]
        while True:
            try:
                nxt = self.queue.get_nowait()
            except queue.Empty:
                return items
            if nxt is _STOP:
                self.queue.put(_STOP)
                return items
            items.append(nxt)

    def _loop(self) -> None:
        while (items := self._take()) is not None:
            live = [(inp, fut) for inp, fut in items if fut.set_running_or_notify_cancel()]
            if not live:
                continue
            self.batches += 1
            futures = {id(inp): fut for inp, fut in live}
            try:
                for inp, rec in self.pool.imap_unordered([inp for inp, _ in live], keep_workers=True):
                    futures.pop(id(inp)).set_result(
                        rec if isinstance(rec, dict) else died_record(inp, self.det, rec))
            except WorkerInitError as e:  # the workers cannot start: every text fails with why
                self.failed = f"the scoring workers could not start: {e}"
                why: Exception = RuntimeError(self.failed)
            except Exception as e:  # noqa: BLE001 - the pool broke: this batch's texts fail, the next restarts it
                why = e
            else:
                why = RuntimeError("not scored")
            for inp, fut in live:
                if not fut.done():
                    fut.set_result(died_record(inp, self.det, why))

    def close(self) -> None:
        self.queue.put(_STOP)
        self.thread.join(timeout=30)
        self.pool.close()
