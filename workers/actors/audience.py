"""Audience actors: CSV imports, double opt-in mail, expiry of unconfirmed requests."""

from __future__ import annotations

import logging

import dramatiq

from mailapp.audience import confirmation_mail, subscriptions
from mailapp.audience.imports import runs

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="imports", max_retries=0, time_limit=6 * 60 * 60 * 1000)
def run_import(job_id: int) -> None:
    """Import a confirmed CSV; a crash marks the job failed rather than retrying blindly."""
    try:
        job = runs.run_import(job_id)
    except Exception as exc:
        log.exception("import %s failed", job_id)
        runs.fail_import(job_id, f"{type(exc).__name__}: {exc}")
        raise
    log.info("import %s: %s", job_id, job.status.value if job else "gone")


@dramatiq.actor(queue_name="mail", max_retries=8, time_limit=120_000)
def send_confirmation(list_id: int, contact_id: int) -> None:
    """Mail a double opt-in link; a deferral raises so Dramatiq retries with backoff."""
    outcome = confirmation_mail.send_confirmation(list_id, contact_id)
    log.info("confirmation for list %s contact %s: %s", list_id, contact_id, outcome)


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=600_000)
def expire_unconfirmed() -> None:
    """Drop double opt-in requests whose link has expired."""
    log.info("expired %s unconfirmed subscriptions", subscriptions.expire_unconfirmed())
