"""Journey actors: waking due enrollments (the trigger scan is added beside it)."""

from __future__ import annotations

import logging
import time

import dramatiq

from mailapp.journeys.engine import wake_due

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
