"""Domain-check actors: the periodic DNS re-check of every sender's domain."""

from __future__ import annotations

import logging

import dramatiq

from mailapp.delivery.domain_setup import recheck_sender, senders_to_check

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="maintenance", max_retries=0, time_limit=60_000)
def check_sender_domains() -> None:
    """Ask for one re-check per sender with a domain (each in its own message)."""
    for project_id, sender_id in senders_to_check():
        check_sender_domain.send(project_id, sender_id)


@dramatiq.actor(queue_name="maintenance", max_retries=1, time_limit=120_000)
def check_sender_domain(project_id: int, sender_id: int) -> None:
    """Check one sender's SPF, DKIM, DMARC and bounce MX; an alert if it got worse."""
    result = recheck_sender(project_id, sender_id)
    if result is not None:
        log.info("sender %s: DNS check %s", sender_id, result["worst"])
