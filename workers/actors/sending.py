"""The send pipeline's actors: prepare a campaign, dispatch due rows, send a batch."""

from __future__ import annotations

import logging

import dramatiq

from mailapp.delivery import batches, claims, guardrails, pipeline, readings, transactional_send
from mailapp.delivery.campaigns import request_dispatch
from mailapp.runtime.logs import log_context

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="prepare", max_retries=3, time_limit=30 * 60_000)
def prepare_campaign(campaign_id: int) -> None:
    """Create a launched campaign's Delivery rows (idempotent)."""
    with log_context(campaign_id=campaign_id):
        created = pipeline.prepare_deliveries(campaign_id)
        log.info("campaign %s: %d deliveries prepared", campaign_id, created)
    request_dispatch()  # the first batches go now, not at the scheduler's next tick


@dramatiq.actor(queue_name="dispatch", max_retries=0, time_limit=120_000)
def dispatch() -> None:
    """One tick: recover dead workers' rows, then enqueue preparation and due batches."""
    lost = claims.recover_stale_claims()
    if lost:
        log.warning("%d deliveries left `sending` by a dead worker are now unknown", lost)
    plan = pipeline.plan_dispatch()
    for campaign_id in plan.prepare:
        prepare_campaign.send(campaign_id)
    for campaign_id, ids in plan.batches:
        send_batch.send(campaign_id, ids)
    for message_id in transactional_send.due_messages():
        send_message.send(message_id)


# Retries only cover infrastructure errors (Redis, database away): the rows themselves
# carry their own attempt counter and a retried batch finds claimed rows already gone.
# A worker takes whatever else it holds first (lower numbers go first): a transactional
# message or a dispatch tick never waits behind the campaign batches it prefetched.
BATCH_PRIORITY = 100


@dramatiq.actor(
    queue_name="send",
    priority=BATCH_PRIORITY,
    max_retries=20,
    min_backoff=2_000,
    time_limit=15 * 60_000,
)
def send_batch(campaign_id: int, delivery_ids: list[int]) -> None:
    """Send one dispatched batch of a campaign."""
    with log_context(campaign_id=campaign_id):
        totals = batches.send_batch(campaign_id, delivery_ids)
        log.info("campaign %s batch of %d: %s", campaign_id, len(delivery_ids), totals)


# Its own queue: a transactional message never waits behind campaign batches.
@dramatiq.actor(queue_name="transactional", priority=0, max_retries=20, time_limit=120_000)
def send_message(message_id: int) -> None:
    """Send one transactional message (idempotent: a sent message is not claimed again)."""
    with log_context(transactional_id=message_id):
        outcome = transactional_send.send_message(message_id)
        log.info("message %s: %s", message_id, outcome)


# After a bounce or complaint: judged at once, not when the next batch ends.
@dramatiq.actor(queue_name="feedback", max_retries=3, time_limit=60_000)
def check_guardrails(campaign_id: int) -> None:
    """Pause a campaign whose bounce or complaint rate passed its threshold."""
    with log_context(campaign_id=campaign_id):
        reason = guardrails.check_guardrails(campaign_id)
        if reason:
            log.warning("campaign %s %s", campaign_id, reason)


# A launch review of a large audience waits for this count: a queue of its own, so a long
# send or import never holds it up.
@dramatiq.actor(queue_name="readings", max_retries=1, time_limit=300_000)
def count_audience(project_id: int, audience: dict) -> None:
    """Count an audience exactly and keep the reading for the review that asked."""
    with log_context(project_id=project_id):
        reading = readings.count_and_keep(project_id, audience)
        log.info("audience of project %s counted: %s", project_id, reading.count)
