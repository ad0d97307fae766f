"""Peak resident memory from /proc, for the benchmarks (no torch import: children measure themselves).

VmHWM, not getrusage's ru_maxrss: Linux carries a parent's peak across fork + exec into
ru_maxrss, so a child started by a 4 GiB benchmark would report 4 GiB whatever it used."""
from __future__ import annotations

from pathlib import Path


def peak_rss(pid: int | str = "self") -> int:
    """Peak resident bytes of process `pid` (VmHWM); 0 when it is gone or unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
