"""Server time of a page as the benches print it: the median of a few requests."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

RUNS = 5


def timed(request: Callable[[], int], runs: int = RUNS) -> float | str:
    """Median milliseconds of `runs` requests after one warm-up; the status when not 200."""
    status = request()
    if status != 200:
        return f"HTTP {status}"
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        request()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
