"""Outbound webhook actors: sending the due attempts."""

from __future__ import annotations

import dramatiq

from mailapp.integrations.webhooks import TIMEOUT_SECONDS, deliver_due

# Small enough that even all-timeouts finish well within the time limit; the job runs often.
BATCH = 20


@dramatiq.actor(
    queue_name="webhooks", max_retries=0, time_limit=int(BATCH * TIMEOUT_SECONDS * 1000 * 1.5)
)
def deliver_due_webhooks() -> None:
    """Send due webhook attempts; failures are retried by their own backoff schedule."""
    deliver_due(limit=BATCH)
