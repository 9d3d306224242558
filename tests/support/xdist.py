"""Who this test process is when pytest-xdist runs the suite in parallel.

xdist starts workers gw0, gw1, ... and tells each one its name and how many there are
(PYTEST_XDIST_WORKER, PYTEST_XDIST_WORKER_COUNT). Everything a worker creates on a shared
service (its Redis database, its PostgreSQL template, the ports it listens on) is derived
from these, so workers never touch each other's state. A serial run is worker 0 of 1.
"""

from __future__ import annotations

import os


def worker_name() -> str:
    """The xdist worker's name ("gw0", ...), or "" when the suite runs serially."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_index() -> int:
    """0, 1, ... for xdist workers gw0, gw1, ...; 0 in a serial run."""
    name = worker_name()
    return int(name.removeprefix("gw")) if name.startswith("gw") else 0


def worker_count() -> int:
    """How many workers share the machine's services in this run (1 when serial)."""
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1) if worker_name() else 1
