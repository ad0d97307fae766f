"""A pool of worker processes that survives its workers: one helper for scoring and training.

Each worker is a fresh (spawned) process that runs `init(*initargs)` once, with its
torch thread count set, and then applies `fn` to one item at a time. Unlike
`concurrent.futures.ProcessPoolExecutor`, whose every pending future fails when one
worker dies, this pool knows which item each worker holds: a worker killed by the
kernel (out of memory), a signal or a crash costs exactly the item it was working on
(reported as `WorkerDied`), and a replacement starts. Results come back in
completion order; memory stays flat because at most `PREFETCH` items per worker
are in flight.

Why not fork: torch's thread pools do not survive a fork once they have run.
Why per-worker task queues and result pipes: a shared queue whose writer is killed
mid-write keeps its lock forever; a private pipe just reaches end-of-file.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

PREFETCH = 2  # items queued per worker: the next one waits while the current one is scored
STOP_TIMEOUT_S = 5.0
MAX_EARLY_DEATHS = 3  # workers dying before they are ready: the pool cannot work, stop


class _Pause:
    """What a source yields when it has nothing to hand out yet (see WorkerPool.imap_unordered)."""

    def __repr__(self) -> str:
        return "PAUSE"


PAUSE = _Pause()
END = object()  # next(source, END): the source is exhausted


class WorkerDied(Exception):
    """The worker holding an item died while working on it (signal, out-of-memory kill, crash)."""


class WorkerInitError(RuntimeError):
    """A worker could not start (its `init` raised): no item can be done, so the run stops."""


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "vanished"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


PARENT_CHECK_S = 2.0  # an idle worker looks this often whether its parent is still there


def _next_task(tasks, parent: int):
    """The next message, or None once the parent is gone: a worker whose parent was killed
    (kill -9 of `fabscore score`) would otherwise wait for work forever, holding its memory
    and the parent's stderr (its own copy of the queue keeps the pipe open)."""
    while True:
        try:
            return tasks.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if os.getppid() != parent:
                return None


def _worker_main(conn, tasks, fn: Callable, init: Callable | None, initargs: tuple, threads: int,
                 parent: int | None = None) -> None:
    """Runs in the child: Ctrl-C is the parent's to handle (it stops the pool)."""
    parent = os.getppid() if parent is None else parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        if init is not None:
            init(*initargs)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which stops the run
        conn.send(("init-error", None, f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None, os.getpid()))
    while True:
        msg = _next_task(tasks, parent)
        if msg is None:
            return
        key, item = msg
        try:
            out = ("ok", key, fn(item))
        except Exception as e:  # noqa: BLE001 - the item's own failure; the worker goes on
            out = ("error", key, e)
        try:
            conn.send(out)  # pickled whole before anything is written: a failure here writes nothing
        except Exception as e:  # noqa: BLE001 - an unpicklable result or exception
            conn.send(("error", key, RuntimeError(f"result not transferable: {type(e).__name__}: {e}")))


@dataclass
class _Worker:
    process: Any
    conn: Any
    tasks: Any
    held: deque = field(default_factory=deque)  # (key, item) sent, in the order the worker takes them
    pid: int | None = None


class WorkerPool:
    """`imap_unordered(items)` -> (item, result) or (item, exception) in completion order.

    threads: torch threads per worker (0: leave torch alone, for work without torch)."""

    def __init__(self, fn: Callable, workers: int, init: Callable | None = None, initargs: tuple = (),
                 threads: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.fn, self.n, self.init, self.initargs, self.threads = fn, workers, init, initargs, threads
        self.ctx = mp.get_context("spawn")
        self.workers: list[_Worker] = []
        self.started = 0  # workers started so far, replacements included
        self.early_deaths = 0

    # ------------------------------------------------------------ processes
    def _start(self) -> _Worker:
        recv, send = self.ctx.Pipe(duplex=False)
        tasks = self.ctx.Queue()
        proc = self.ctx.Process(target=_worker_main, args=(send, tasks, self.fn, self.init, self.initargs,
                                                            self.threads, os.getpid()), daemon=True)
        proc.start()
        send.close()
        self.started += 1
        w = _Worker(proc, recv, tasks)
        self.workers.append(w)
        return w

    def _retire(self, w: _Worker, kill: bool = False) -> None:
        if w in self.workers:
            self.workers.remove(w)
        if kill and w.process.is_alive():
            w.process.kill()
        w.process.join(STOP_TIMEOUT_S)
        w.tasks.cancel_join_thread()  # items still queued for a dead worker are dropped, not flushed
        w.tasks.close()
        w.conn.close()

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and for measuring their memory)."""
        return [w.process.pid for w in self.workers if w.process.is_alive()]

    def close(self) -> None:
        """Stop every worker: ask politely, then terminate, then kill (Ctrl-C ends here)."""
        for w in self.workers:
            if w.process.is_alive():
                try:
                    w.tasks.put(None)
                except (OSError, ValueError):
                    pass
        for w in list(self.workers):
            w.process.join(0.5 if not w.held else 0)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(STOP_TIMEOUT_S)
            self._retire(w, kill=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ the loop
    def imap_unordered(self, items: Iterable, keep_workers: bool = False, wake=None) -> Iterator[tuple[Any, Any]]:
        """Yields (item, result) for each item, or (item, exception) where fn raised
        (the exception itself) or its worker died (`WorkerDied`). Items are read
        lazily; the pool is stopped when the iteration fails or is closed, and when it
        ends unless keep_workers (a server's pool keeps its loaded workers).

        A source that must not block (a server's queue) yields PAUSE when it has nothing
        to hand out, and rings `wake` (the reading end of a multiprocessing Pipe) with one
        message per new item. The pool then waits for a result or the bell, whichever
        comes first, and asks the source again: a new item goes to a free worker at once,
        never after the items already in flight."""
        source = iter(items)
        retry: deque = deque()  # items a dead worker had not started: given to another worker
        exhausted, next_key = False, 0
        try:
            while len(self.workers) < self.n:
                self._start()
            while True:
                paused = False
                while not paused and not (exhausted and not retry):  # keep every worker fed, the least busy first
                    w = min(self.workers, key=lambda w: len(w.held))
                    if len(w.held) >= PREFETCH:
                        break
                    item = retry.popleft() if retry else next(source, END)
                    if item is END or item is PAUSE:
                        exhausted, paused = item is END, item is PAUSE
                        break
                    w.held.append((next_key, item))
                    w.tasks.put((next_key, item))
                    next_key += 1
                busy = [w for w in self.workers if w.held]
                bell = [wake] if wake is not None and not exhausted else []
                if not busy and not bell:
                    if paused:
                        raise ValueError("a source that yields PAUSE needs a wake connection")
                    return
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy] + bell)
                if wake is not None and wake in ready:
                    while wake.poll():  # rung once per new item: new items wait in the source
                        wake.recv_bytes()
                for w in busy:
                    if w.conn not in ready and w.process.sentinel not in ready:
                        continue
                    yield from self._collect(w, retry)
        except BaseException:
            self.close()
            raise
        finally:
            if not keep_workers:
                self.close()

    def _collect(self, w: _Worker, retry: deque) -> Iterator[tuple[Any, Any]]:
        """Everything worker w has sent; at end-of-file (it died) its current item
        fails with WorkerDied, the items queued behind it go to other workers, and a
        replacement starts."""
        try:
            while w.conn.poll():
                kind, key, value = w.conn.recv()
                if kind == "init-error":
                    raise WorkerInitError(f"a worker could not start: {value}")
                if kind == "ready":
                    w.pid = value
                    continue
                held_key, item = w.held.popleft()
                assert held_key == key, (held_key, key)  # one worker takes its items in order
                yield item, value
            return  # alive, nothing more to read yet
        except (EOFError, OSError):
            pass  # every write end is closed: the worker is gone
        w.process.join(STOP_TIMEOUT_S)
        why = _describe_exit(w.process.exitcode)
        if w.pid is None:  # died before it was ready: it held nothing it had started
            self.early_deaths += 1
            if self.early_deaths >= MAX_EARLY_DEATHS:
                raise WorkerInitError(f"{self.early_deaths} workers died while starting (the last {why})")
        elif w.held:
            _, item = w.held.popleft()
            yield item, WorkerDied(f"the worker process scoring it {why}")
        retry.extend(item for _, item in w.held)
        w.held.clear()
        self._retire(w)
        self._start()  # a replacement, so the pool keeps its size
