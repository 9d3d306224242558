"""A per-process spool file between the tracking request and the Redis buffer.

The request appends one line with a single `os.write` to a file opened O_APPEND: no network
round trip, and once `os.write` returns the kernel holds the line, so it survives the worker
being SIGKILLed right after answering. A thread of the same process ships new lines to Redis
every few milliseconds in one command and only then moves its offset; a file that grew past
ROTATE_BYTES and is fully shipped is replaced by a fresh one and removed.

Each spool file is held with an exclusive `flock`, which the kernel releases when its process
dies however it dies. Any process sharing the spool directory can therefore adopt the files
nobody holds (`adopt_orphans`: a web worker at start and every few seconds, the drain job)
and ship them again from the start. A line's key is its file's random token plus its byte
offset, so re-shipped lines carry the keys they had the first time and the drain recognizes
them (`Event.hit_key` is unique): at-least-once shipping, exactly-once events.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from mailapp.runtime import metrics

log = logging.getLogger(__name__)

SUFFIX = ".hits"
ROTATE_BYTES = 256 * 1024
READ_BYTES = 1024 * 1024  # the most one shipment carries
ADOPT_EVERY = 10.0  # seconds between looks for orphaned files

# Ships (key, line) pairs in order; returns only once they are safe elsewhere, else raises.
Shipper = Callable[[list[tuple[uuid.UUID, bytes]]], None]


def spool_directory(base: str | os.PathLike) -> Path:
    """This host's spool directory under `base` (pids and flocks only mean something here)."""
    return Path(base) / socket.gethostname()


def line_key(token: bytes, offset: int) -> uuid.UUID:
    """The stable key of the line starting at `offset` of the file named by `token`."""
    return uuid.UUID(bytes=token + offset.to_bytes(8, "big"))


class _File:
    """One spool file held under flock: its descriptor, token and shipped offset."""

    def __init__(self, fd: int, path: Path, token: bytes, shipped: int = 0) -> None:
        self.fd, self.path, self.token, self.shipped = fd, path, token, shipped

    @classmethod
    def create(cls, directory: Path) -> _File:
        token = secrets.token_bytes(8)
        path = directory / f"{token.hex()}{SUFFIX}"
        # Locked under a name adopters ignore, then renamed: no one can take it for an orphan.
        temporary = path.with_suffix(".new")
        fd = os.open(temporary, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(temporary, path)
        return cls(fd, path, token)

    def ship(self, shipper: Shipper, limit: int = READ_BYTES) -> int:
        """Ship complete lines after the shipped offset; returns how many."""
        data = os.pread(self.fd, limit, self.shipped)
        end = data.rfind(b"\n") + 1
        if not end:
            return 0
        records = []
        offset = self.shipped
        for line in data[:end].splitlines(keepends=True):
            records.append((line_key(self.token, offset), line[:-1]))
            offset += len(line)
        shipper(records)
        self.shipped = offset
        return len(records)

    def ship_all(self, shipper: Shipper) -> int:
        shipped = 0
        while count := self.ship(shipper):
            shipped += count
        return shipped

    def remove(self) -> None:
        os.unlink(self.path)
        os.close(self.fd)


class HitSpool:
    """The spool of one process; `append` is the request's only I/O."""

    def __init__(self, directory: Path, shipper: Shipper, *, interval: float | None) -> None:
        self.directory = directory
        self.shipper = shipper
        self.interval = interval  # None: ship only when asked (flush), no thread
        self._lock = threading.Lock()
        self._ship_lock = threading.Lock()
        self._pid: int | None = None
        self._file: _File | None = None
        self._stop = threading.Event()

    def append(self, line: bytes) -> None:
        """Append one newline-terminated record; OSError when the disk refuses it."""
        if self._pid != os.getpid():
            self.start()
        with self._lock:
            written = os.write(self._file.fd, line)
            if written != len(line):
                os.write(self._file.fd, b"\n")  # end the torn line so the next one stays whole
                raise OSError(errno.ENOSPC, "short write to the hit spool")

    def start(self) -> None:
        """Open this process's file and start the thread (which adopts orphans first)."""
        with self._ship_lock:
            if self._pid == os.getpid():
                return
            # A forked child never writes its parent's file: it gets its own.
            self.directory.mkdir(parents=True, exist_ok=True)
            self._file = _File.create(self.directory)
            self._pid = os.getpid()
            self._stop.clear()
        if self.interval is not None:
            threading.Thread(target=self._run, name="hit-spool", daemon=True).start()
            atexit.register(self.close)

    def flush(self) -> int:
        """Ship everything appended so far by this process; returns how many lines."""
        if self._pid != os.getpid():
            return 0
        with self._ship_lock:
            shipped = self._file.ship_all(self.shipper)
            if self._file.shipped >= ROTATE_BYTES:
                self._rotate()
            return shipped

    def _rotate(self) -> None:
        old = self._file
        with self._lock:
            self._file = _File.create(self.directory)
        old.ship_all(self.shipper)  # lines appended just before the swap
        old.remove()

    def adopt_orphans(self) -> int:
        """Ship and remove the spool files of dead processes; returns how many lines."""
        return adopt_orphans(self.directory, self.shipper)

    def close(self) -> None:
        """Stop the thread, ship what is left and remove the file (clean shutdown)."""
        self._stop.set()
        if self._pid != os.getpid():
            return
        try:
            self.flush()
            with self._ship_lock:
                self._file.remove()
                self._pid = None
        except Exception:  # the file stays for an adopter to ship
            log.exception("hit spool not shipped at shutdown; it will be adopted")

    def _run(self) -> None:
        pid = os.getpid()
        waited = ADOPT_EVERY
        while not self._stop.wait(self.interval) and self._pid == pid:
            try:
                self.flush()
                waited += self.interval
                if waited >= ADOPT_EVERY:
                    waited = 0.0
                    self.adopt_orphans()
            except Exception:  # keep the lines and try again
                log.exception("shipping tracking hits failed; they stay in the spool")
                self._stop.wait(1.0)
            metrics.TRACKING_SPOOL_BYTES.set(self.unshipped())

    def unshipped(self) -> int:
        """Bytes this process appended and has not shipped yet (Redis slow or away)."""
        with self._ship_lock:  # not while a rotation swaps the file
            if self._file is None or self._pid != os.getpid():
                return 0
            return max(0, os.fstat(self._file.fd).st_size - self._file.shipped)


def adopt_orphans(directory: Path, shipper: Shipper) -> int:
    """Ship and remove every spool file in `directory` whose process is gone."""
    if not directory.is_dir():
        return 0
    shipped = 0
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            token = bytes.fromhex(path.stem)
            fd = os.open(path, os.O_RDWR)
        except ValueError:
            log.error("not a hit spool file, left alone: %s", path)
            continue
        except FileNotFoundError:
            continue  # shipped and removed by its owner meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # its process is alive, or another adopter has it
            continue
        if os.fstat(fd).st_nlink == 0:
            os.close(fd)  # removed between our listing and our lock
            continue
        orphan = _File(fd, path, token)
        try:
            count = orphan.ship_all(shipper)
        except Exception:
            os.close(fd)
            raise
        orphan.remove()
        if count:
            log.warning("shipped %d tracking hits from the orphaned spool %s", count, path.name)
        shipped += count
    return shipped
