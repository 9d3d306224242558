"""Journey actors: waking due enrollments (`wake_journeys`) and the trigger scan that starts
journeys (`scan_journey_triggers`)."""

from __future__ import annotations

import logging
import secrets
import time

import dramatiq

from mailapp.extensions import get_redis
from mailapp.journeys.engine import wake_due
from mailapp.journeys.triggers import scan_triggers

log = logging.getLogger(__name__)
BATCH = 5000
# A tick stops taking new batches after this long; the scheduler's next tick goes on.
TICK_SECONDS = 50


@dramatiq.actor(queue_name="journeys", max_retries=0, time_limit=120_000)
def wake_journeys() -> None:
    """Run due journey steps in batches until none are due or the tick's time is up."""
    started = time.monotonic()
    totals: dict[str, int] = {}
    while True:
        counts = wake_due(limit=BATCH)
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
        if counts.get("claimed", 0) < BATCH or time.monotonic() - started > TICK_SECONDS:
            break
    if totals.get("claimed"):
        log.info("journeys woken: %s", totals)


SCAN_TIME_LIMIT_MS = 10 * 60 * 1000
# Two scans at once would read the same windows: the second one of a slow tick stands aside.
SCAN_LOCK_KEY = "mailapp:journeys:trigger-scan"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


@dramatiq.actor(queue_name="journeys", max_retries=0, time_limit=SCAN_TIME_LIMIT_MS)
def scan_journey_triggers() -> None:
    """Enroll the contacts whose trigger fired since the last scan (the scheduler's job)."""
    client, token = get_redis(), secrets.token_hex(8)
    if not client.set(SCAN_LOCK_KEY, token, nx=True, px=SCAN_TIME_LIMIT_MS):
        log.info("journey trigger scan: another one is running")
        return
    try:
        counts = scan_triggers()
    finally:
        client.eval(_RELEASE, 1, SCAN_LOCK_KEY, token)
    if any(counts.values()):
        log.info("journey trigger scan enrolled %s", counts)
