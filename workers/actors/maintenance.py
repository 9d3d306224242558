"""Housekeeping actors."""

from __future__ import annotations

import dramatiq

from mailapp.extensions import get_redis
from mailapp.runtime.health import prune_heartbeats


@dramatiq.actor(queue_name="maintenance", max_retries=0, time_limit=60_000)
def prune_stale_heartbeats() -> None:
    """Forget processes that stopped beating a day ago (they left no goodbye)."""
    prune_heartbeats(get_redis(), older_than=86_400)
