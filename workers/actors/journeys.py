"""Journey actors: the trigger scan that starts journeys (`scan_journey_triggers`)."""

from __future__ import annotations

import logging
import secrets

import dramatiq

from mailapp.extensions import get_redis
from mailapp.journeys.triggers import scan_triggers

log = logging.getLogger(__name__)
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
