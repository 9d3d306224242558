"""The service's Prometheus counters and histograms, one definition each, and their exposition.

Incremented where things happen (the SMTP hand-over, a rate-limit wait, a tracking hit ...)
in whichever process does it. With PROMETHEUS_MULTIPROC_DIR set, prometheus_client keeps
every process's values in files of that directory (named by pid), and `/metrics` in any web
process adds up all of them: every gunicorn and Dramatiq process on the host counts. The
variable must be set before the process starts (prometheus_client reads it when imported),
the same directory for all processes of a host; it is created here when missing.

Readings of state (queue depths, campaign progress, heartbeat ages) are not kept per process:
`insights.operations` reads them from Redis and the database when `/metrics` is scraped.
Labels are bounded sets (outcomes, reply classes, endpoint names, ids): never an address,
a URL or a token.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import time
from collections.abc import Iterable, Iterator
from typing import Protocol

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The Dramatiq queues the workers declared (workers.metrics adds them at boot), so the web,
# which imports no actor, knows which queues to read (insights.operations).
QUEUES_KEY = "mailapp:metrics:queues"
if os.environ.get(MULTIPROC_ENV):
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

from prometheus_client import (  # noqa: E402 - after the directory exists
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]

# Seconds: an SMTP hand-over is milliseconds on a LAN relay, seconds on a slow remote one.
SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Dramatiq's own middleware's buckets (milliseconds), so its usual dashboards apply.
DRAMATIQ_BUCKETS = (5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)
DRAMATIQ_BUCKETS += (30000, 60000, 600000, 900000)

HANDED_OVER = Counter(
    "mailapp_messages_handed_over",
    "Messages handed to an SMTP transport, by kind, outcome and reply class.",
    ["kind", "outcome", "reply_class"],
)
SEND_SECONDS = Histogram(
    "mailapp_send_duration_seconds",
    "Time one SMTP hand-over took (MAIL to the end of DATA).",
    ["kind"],
    buckets=SEND_BUCKETS,
)
RATE_LIMIT_WAITS = Counter(
    "mailapp_rate_limit_waits",
    "Times a rate limit held messages back (they wait briefly or are put back for later).",
    ["limit"],
)
THROTTLES = Counter(
    "mailapp_throttles",
    "Slow-downs a receiving domain group asked for (421 or 4.7.x replies).",
    ["group"],
)
TRACKING_HITS = Counter("mailapp_tracking_hits", "Genuine open and click hits spooled.", ["event"])
TRACKING_SPOOL_BYTES = Gauge(
    "mailapp_tracking_spool_unshipped_bytes",
    "Tracking hits a web process spooled to disk and has not shipped to Redis yet, in bytes.",
    multiprocess_mode="livesum",
)
WEBHOOK_ATTEMPTS = Counter(
    "mailapp_webhook_attempts",
    "Outbound webhook attempts by result: delivered, retrying, given_up.",
    ["result"],
)
IMPORT_ROWS = Counter("mailapp_import_rows", "Contact import rows written.")
HTTP_REQUESTS = Counter(
    "mailapp_http_requests",
    "HTTP requests by endpoint (the Flask endpoint name), method and status.",
    ["endpoint", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "mailapp_http_request_duration_seconds",
    "HTTP request time by endpoint.",
    ["endpoint"],
    buckets=HTTP_BUCKETS,
)

# Dramatiq's own metric names (dramatiq.middleware.prometheus), kept by workers.metrics.
QUEUE_LABELS = ["queue_name", "actor_name"]
DRAMATIQ_MESSAGES = Counter(
    "dramatiq_messages", "The total number of messages processed.", QUEUE_LABELS
)
DRAMATIQ_ERRORS = Counter(
    "dramatiq_message_errors", "The total number of errored messages.", QUEUE_LABELS
)
DRAMATIQ_RETRIES = Counter(
    "dramatiq_message_retries", "The total number of retried messages.", QUEUE_LABELS
)
DRAMATIQ_REJECTS = Counter(
    "dramatiq_message_rejects", "The total number of dead-lettered messages.", QUEUE_LABELS
)
DRAMATIQ_IN_PROGRESS = Gauge(
    "dramatiq_messages_inprogress",
    "The number of messages in progress.",
    QUEUE_LABELS,
    multiprocess_mode="livesum",
)
DRAMATIQ_DURATION = Histogram(
    "dramatiq_message_duration_milliseconds",
    "The time spent processing messages.",
    QUEUE_LABELS,
    buckets=DRAMATIQ_BUCKETS,
)


def reply_class(code: int | None) -> str:
    """2xx, 4xx or 5xx from an SMTP reply code; `connection` when no reply came."""
    if code is None or not 200 <= code < 600:
        return "connection"
    return f"{code // 100}xx"


class Reply(Protocol):
    """What a hand-over answered (mail.transports.SendResult, a sibling this cannot import)."""

    @property
    def outcome(self) -> str: ...

    @property
    def code(self) -> int | None: ...


def record_handover(kind: str, result: Reply, started: float) -> None:
    """Count one hand-over and the time since `started` (a time.monotonic())."""
    HANDED_OVER.labels(kind, result.outcome, reply_class(result.code)).inc()
    SEND_SECONDS.labels(kind).observe(time.monotonic() - started)


def multiproc_dir() -> str | None:
    """The directory this process writes its values to, when in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


_PID_FILE = re.compile(r"_(\d+)\.db$")


def sweep_dead_files(path: str | None = None) -> int:
    """Remove the files of processes no longer running (a previous run's); returns how many.

    Called when a process group starts (gunicorn's arbiter, each Dramatiq worker process at
    boot) instead of wiping the directory, which the other groups of the host share: their
    running processes keep their files. A dead process's counts leave the sum, which
    Prometheus reads as a counter reset.
    """
    path = path or multiproc_dir()
    if not path:
        return 0
    removed = 0
    for name in glob.glob(os.path.join(path, "*.db")):
        match = _PID_FILE.search(name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.remove(name)
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def mark_dead(pid: int) -> None:
    """A process ended (gunicorn's child_exit, a worker's shutdown): drop its live gauges."""
    if path := multiproc_dir():
        mark_process_dead(pid, path)


class _Collected:
    """Adapts a plain iterable of metric families for a registry."""

    def __init__(self, collect: Iterable) -> None:
        self._source = collect

    def collect(self) -> Iterator:
        yield from self._source.collect()


def exposition(path: str | None, extra: Iterable[Collector] = ()) -> bytes:
    """The text exposition: every process's values under `path` (this process's own when
    None) and the extra collectors' readings."""
    registry = CollectorRegistry()
    if path:
        os.makedirs(path, exist_ok=True)  # no process has counted anything yet
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_Collected(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)
