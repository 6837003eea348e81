"""Timing shared by the bench scripts (run as `python bench/NAME.py`, so this folder is on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best(fn: Callable[[], object], rounds: int) -> float:
    """The fastest of `rounds` runs: the least disturbed by the rest of the machine."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
