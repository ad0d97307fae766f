"""The local engine: score in this process, or in a pool of worker processes on this machine."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain, islice

from fabscore.engines.plan import MIN_INPUTS_PER_WORKER, Plan
from fabscore.engines.pool import WorkerPool
from fabscore.engines.worker import died_record, init_scorer, input_record, score_input
from fabscore.io.reading import Input


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


def score_texts(det, texts: list, keys: list[str], fpr: float | None, n: Plan) -> list[dict]:
    """The Python API's `score(workers=...)` (Detector.parallel): the texts through this engine's
    worker pool, the records in the order given and under the caller's ids."""
    if fpr is not None and float(fpr) != det.fpr:  # the workers load the detector at this FPR
        det = type(det)(det.model, fpr=fpr)
    got = {r["id"]: r for r in LocalEngine(det, n).records(
        Input(path=None, id=str(i), text=t) for i, t in enumerate(texts))}
    return [{**got[str(i)], "id": key} for i, key in enumerate(keys)]
