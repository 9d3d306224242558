"""A clock end-to-end tests can move: `now()` plus an offset read from a file.

Only when MAILAPP_ENV is "testing" and MAILAPP_CLOCK_FILE names a file, so real processes
(web, worker, scheduler) can be sent days ahead together by writing one number of seconds.
Read once at import otherwise: unset, `now()` is `datetime.now(UTC)` behind one `is None`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

# Re-read the file at most this often (seconds): the hot path stays one monotonic() call.
REREAD_SECONDS = 0.2
ZERO = timedelta(0)

_file: str | None = None
_offset = ZERO
_read_at = float("-inf")


def configure(env: Mapping[str, str] = os.environ) -> None:
    """Honour MAILAPP_CLOCK_FILE from `env` (testing only); called at import and by tests."""
    global _file, _offset, _read_at
    path = env.get("MAILAPP_CLOCK_FILE") or None
    _file = path if env.get("MAILAPP_ENV") == "testing" else None
    _offset, _read_at = ZERO, float("-inf")


def now() -> datetime:
    """The time in UTC, moved by the test clock's offset when one is set."""
    if _file is None:
        return datetime.now(UTC)
    return datetime.now(UTC) + _current_offset()


def offset_seconds() -> float:
    """The test clock's offset in seconds, for code that reads `time.time()` (0.0 when unset)."""
    return 0.0 if _file is None else _current_offset().total_seconds()


def _current_offset() -> timedelta:
    global _offset, _read_at
    tick = time.monotonic()
    if tick - _read_at >= REREAD_SECONDS:
        _offset, _read_at = _read_offset(_file), tick
    return _offset


def _read_offset(path: str | None) -> timedelta:
    # A missing or half-written file means no offset (yet), never a crash in a worker.
    try:
        with open(path or "", encoding="ascii") as file:
            return timedelta(seconds=float(file.read().strip() or 0))
    except (OSError, ValueError):
        return ZERO


def advance_file(path: str, seconds: float) -> None:
    """Move the clock of every process reading `path` on by `seconds` (tests write it)."""
    current = _read_offset(path).total_seconds()
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="ascii") as file:
        file.write(str(current + seconds))
    os.replace(temporary, path)  # atomic: a reader sees the old or the new offset


configure()
