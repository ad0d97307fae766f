"""Progress of long steps on stderr: a tqdm bar with ETA on a terminal, a start and an end
line otherwise (a log file or CI gets two lines per step, not a redrawn bar). Nothing is
printed for a step with nothing to do."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(desc: str, total: int | None, stream=None, unit: str = "article",
                 quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`. total None: a count without an end (reading a folder); 0: nothing
    to do, nothing shown; quiet: show nothing at all."""
    stream = stream or sys.stderr
    if quiet or total == 0:
        yield lambda n=1: None
        return
    if stream.isatty():
        from tqdm import tqdm

        with tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True) as bar:
            yield bar.update
        return
    t0 = time.time()
    count = [0]

    def advance(n: int = 1) -> None:
        count[0] += n

    print(f"{desc}: {total} {unit}s to do" if total is not None else f"{desc}: started", file=stream, flush=True)
    yield advance
    print(f"{desc}: {count[0]} {unit}s done in {time.time() - t0:.0f} s", file=stream, flush=True)
