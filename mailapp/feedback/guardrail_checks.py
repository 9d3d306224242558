"""Feedback asks for a campaign's guardrails to be judged, once it is committed.

A hard bounce or a complaint, from whatever source (ESP webhook, bounce mailbox, the MTA
pipe, a refusal at send time), is recorded by `events.record_events`; that asks for a check
of the campaign's guardrails here. The check runs in a worker (`tasks.check_guardrails`), off
the webhook's request, and only after the transaction that recorded the event commits, so
the worker sees it. A burst of bounces asks once: a Redis key marks a check as pending
until the worker starts it (`check_started`), and feedback committed after that start asks
again, so no event goes unjudged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from mailapp import tasks
from mailapp.extensions import db, get_redis

log = logging.getLogger(__name__)
PENDING_KEY = "mailapp:guardrails:pending:{campaign_id}"
# A pending mark outlives a lost check by this much at most, then feedback asks again.
PENDING_TTL_SECONDS = 300
_SESSION_KEY = "guardrail_checks"


def check_after_commit(campaign_ids: Iterable[int]) -> None:
    """Ask for these campaigns' guardrails to be judged once this transaction commits."""
    ids = {int(i) for i in campaign_ids if i}
    if not ids:
        return
    db.session().info.setdefault(_SESSION_KEY, set()).update(ids)


@sa.event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)


@sa.event.listens_for(Session, "after_commit")
def _ask(session: Session) -> None:
    if _SESSION_KEY not in session.info:
        return
    for campaign_id in sorted(session.info.pop(_SESSION_KEY, set())):
        try:
            fresh = get_redis().set(
                PENDING_KEY.format(campaign_id=campaign_id), 1, nx=True, ex=PENDING_TTL_SECONDS
            )
            if fresh:
                tasks.check_guardrails(campaign_id)
        except (redis.RedisError, tasks.NotBound) as exc:
            # The feedback is recorded; the next batch end or the canary's gate judges it.
            log.warning("guardrail check of campaign %s not requested: %s", campaign_id, exc)


def check_started(campaign_id: int) -> None:
    """The worker starts judging: feedback committed from now on asks for a new check."""
    try:
        get_redis().delete(PENDING_KEY.format(campaign_id=campaign_id))
    except redis.RedisError as exc:
        log.warning(
            "guardrail check of campaign %s: pending mark not cleared: %s", campaign_id, exc
        )
