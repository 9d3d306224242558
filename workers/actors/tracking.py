"""Tracking actors: drain the hit buffer into events; purge raw events past retention."""

from __future__ import annotations

import logging

import dramatiq

from mailapp.feedback import events
from mailapp.feedback.tracking import hits

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="tracking", max_retries=0, time_limit=90_000)
def drain_tracking_events() -> None:
    """Runs every few seconds; a failed drain leaves its batch for the next one."""
    recorded = hits.drain_hits()
    if recorded:
        log.info("recorded %d tracking events", recorded)


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=30 * 60_000)
def purge_expired_events() -> None:
    """Delete raw events older than each project's retention; aggregates stay."""
    deleted = events.purge_expired_events()
    log.info("purged %d expired events", deleted)
