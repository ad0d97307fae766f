"""Progress of long steps on stderr: a tqdm bar with ETA on a terminal, a start and an
end line otherwise (a log file or CI gets two lines per step, not a redrawn bar)."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(desc: str, total: int, stream=None) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`; nothing is shown when there is nothing to do."""
    stream = stream or sys.stderr
    if total <= 0:
        yield lambda n=1: None
        return
    if stream.isatty():
        from tqdm import tqdm

        with tqdm(total=total, desc=desc, unit="article", file=stream, dynamic_ncols=True) as bar:
            yield bar.update
        return
    t0 = time.time()
    print(f"{desc}: {total} to do", file=stream, flush=True)
    yield lambda n=1: None
    print(f"{desc}: done in {time.time() - t0:.0f} s", file=stream, flush=True)
