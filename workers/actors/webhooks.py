"""Outbound webhook actors: sending the due attempts."""

from __future__ import annotations

import dramatiq

from mailapp.services.webhooks import deliver_due


@dramatiq.actor(queue_name="webhooks", max_retries=0, time_limit=5 * 60_000)
def deliver_due_webhooks() -> None:
    """Send due webhook attempts; failures are retried by their own backoff schedule."""
    deliver_due()
