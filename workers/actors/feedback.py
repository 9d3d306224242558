"""Feedback actors: polling the bounce mailbox."""

from __future__ import annotations

import dramatiq
from flask import current_app

from mailapp.access.audit import Actor
from mailapp.feedback.mailboxes import poll_configured_mailbox


@dramatiq.actor(queue_name="feedback", max_retries=0, time_limit=10 * 60_000)
def poll_bounce_mailbox() -> None:
    """Read new bounces, complaints and unsubscribes from BOUNCE_MAILBOX_URL."""
    poll_configured_mailbox(
        current_app.config.get("BOUNCE_MAILBOX_URL"), actor=Actor.system("bounce-mailbox")
    )
