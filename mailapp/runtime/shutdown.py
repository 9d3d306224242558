"""A worker process is stopping: long work hands back what it has not started.

The worker's middleware raises the flag the moment a stop is asked for (SIGTERM on a
deploy); a send batch reads it between messages, records what it sent and gives the rest
back to the dispatcher, so the process stops within one SMTP transaction instead of a
whole batch.
"""

from __future__ import annotations

import threading

_stopping = threading.Event()


def request_stop() -> None:
    """Ask the long-running work of this process to wind down."""
    _stopping.set()


def clear_stop() -> None:
    """The process runs (again): work proceeds normally."""
    _stopping.clear()


def stopping() -> bool:
    """Whether this process was asked to stop."""
    return _stopping.is_set()
