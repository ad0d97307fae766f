"""How many torch threads a forward pass runs on: the rule that makes records reproducible.

Torch-free at import, so the command line can plan its workers without loading torch.
"""
from __future__ import annotations

from contextlib import contextmanager

# Every backbone forward pass runs on this many torch threads, whatever the caller's setting.
# A bf16 matrix product on AMX (and possibly elsewhere) splits its work by thread count and
# rounds differently with another split; the per-token histograms then magnify that into score
# changes of up to 0.01. With one thread per pass, a record is the same bit for bit in this
# process, in a worker pool or on a Ray actor. Parallelism comes from processes instead: on
# 2 cores two single-threaded processes out-run one two-threaded one (benchmarks/limits.py).
PASS_THREADS = 1


@contextmanager
def pass_threads():
    """Run the enclosed forward passes on PASS_THREADS torch threads, then restore the caller's."""
    import torch

    before = torch.get_num_threads()
    if before != PASS_THREADS:
        torch.set_num_threads(PASS_THREADS)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)

