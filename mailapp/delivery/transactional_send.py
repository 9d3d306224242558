"""Transactional mail, the worker side: claim one accepted message, render, sign, send, record.

A message is claimed (queued/deferred -> sending) before it is handed to the pool, so a
redelivered job or a second worker finds nothing to send; suppression is checked again at
send time, 4xx replies defer it with backoff and `due_messages` hands it out again."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from mailapp.audience.suppression import suppress
from mailapp.content.isolation import render_isolated
from mailapp.content.rendering import RenderError
from mailapp.delivery.batches import transport_pool
from mailapp.delivery.campaigns import PIPELINE
from mailapp.delivery.compose import Composer, Variant
from mailapp.delivery.mx_providers import MxGrouper
from mailapp.delivery.outcomes import asks_to_slow_down, is_hard_bounce, throttle_reason
from mailapp.delivery.ratelimits import RateLimiter
from mailapp.delivery.retries import RetryPolicy, expired_reason
from mailapp.delivery.transactional import OPEN, Recipient, blocking_suppression, inline_version
from mailapp.delivery.transport_choice import Failover
from mailapp.extensions import db, get_redis
from mailapp.feedback.message_stats import fold_message_events
from mailapp.models import (
    Contact,
    DeliveryStatus,
    Event,
    EventType,
    Message,
    MessageAttempt,
    Project,
    Sender,
    SuppressionReason,
    TemplateVersion,
)
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner


def _claim(message_id: int, now: datetime) -> Message | None:
    table = Message.__table__
    claimed = db.session.execute(
        sa.update(table)
        .where(
            table.c.id == message_id,
            table.c.status.in_([s.value for s in OPEN]),
            table.c.scheduled_at <= sa.literal(now, table.c.scheduled_at.type),
        )
        .values(status=DeliveryStatus.SENDING.value, claimed_at=now, attempts=table.c.attempts + 1)
    ).rowcount
    db.session.commit()
    return db.session.get(Message, message_id) if claimed else None


def send_message(message_id: int) -> str | None:
    """Send one claimed message and record its outcome; None when nothing was due."""
    now = utcnow()
    message = _claim(message_id, now)
    if message is None:
        return None
    project = db.session.get(Project, message.project_id)
    blocked = blocking_suppression(project.id, message.recipient)
    if blocked is not None:
        return _finish(message, DeliveryStatus.SUPPRESSED, reason=f"suppressed: {blocked.value}")
    sender = db.session.get(Sender, message.sender_id)
    limiter = RateLimiter.from_config(get_redis(), project, sender)
    group = MxGrouper.from_config(get_redis()).group_of(message.recipient)
    grant = limiter.acquire(group, 1, utcnow())
    if not grant.granted:
        wait = (grant.retry_at - utcnow()).total_seconds()
        if wait > current_app.config["RATE_LIMIT_MAX_WAIT"]:
            message.attempts -= 1
            return _finish(
                message, DeliveryStatus.QUEUED, scheduled_at=grant.retry_at, claimed_at=None
            )
        time.sleep(max(wait, 0.01))
    try:
        composed = _composer(project, sender, message).compose(
            message.id, message_recipient(message), "T", message.data
        )
    except RenderError as exc:
        # Retrying cannot help: the content is what it is. `reason` is short (64), so the
        # sandbox's explanation goes where the API shows a server's answer.
        return _finish(
            message, DeliveryStatus.FAILED, reason="not rendered", last_reply=str(exc)[:2000]
        )
    result = Failover(sender, transport_pool()).send(composed, f"m{message.id}", "transactional")
    if asks_to_slow_down(result):
        limiter.slow_down(group, throttle_reason(result))
    reply = f"{result.code or ''} {result.reply}".strip()[:2000]
    message.message_id = composed.message_id
    db.session.add(
        MessageAttempt(
            project_id=message.project_id,
            message_id=message.id,
            attempted_at=utcnow(),
            outcome=result.outcome,
            reply=reply or None,
        )
    )
    if result.outcome == "sent":
        _event(message, EventType.SENT, {})
        return _finish(message, DeliveryStatus.SENT, last_reply=reply, sent_at=utcnow())
    if result.outcome == "unknown":
        return _finish(message, DeliveryStatus.UNKNOWN, last_reply=reply, reason="lost after DATA")
    if result.outcome == "deferred":
        return _defer(project, message, reply, throttled=asks_to_slow_down(result))
    reason = "refused"
    if is_hard_bounce(result):
        # at_send: refused during the SMTP conversation; reports count it as sent too
        payload = {
            "code": result.code,
            "enhanced_code": result.enhanced_code,
            "reply": reply,
            "at_send": True,
        }
        _event(message, EventType.BOUNCE_HARD, payload)
        suppress(
            project.id,
            message.recipient,
            SuppressionReason.HARD_BOUNCE,
            actor=PIPELINE,
            source=f"message {message.id}: {result.code} {result.enhanced_code}",
            commit=False,
        )
    return _finish(message, DeliveryStatus.FAILED, last_reply=reply, reason=reason)


def _defer(project: Project, message: Message, reply: str, *, throttled: bool) -> str:
    """Try again within the queue lifetime (a throttle not counted), else fail at last."""
    now = utcnow()
    policy = RetryPolicy.for_project(project)
    if throttled:
        message.attempts -= 1
    message.first_deferred_at = message.first_deferred_at or now
    retry_at = policy.retry_at(
        attempts=message.attempts,
        first_deferred_at=message.first_deferred_at,
        now=now,
        throttled=throttled,
    )
    if retry_at is None:
        return _finish(
            message, DeliveryStatus.FAILED, last_reply=reply, reason=expired_reason(policy)
        )
    return _finish(
        message, DeliveryStatus.DEFERRED, last_reply=reply, scheduled_at=retry_at, claimed_at=None
    )


def message_version(message: Message) -> TemplateVersion | None:
    """What a message renders: its template version, or a version made of its inline content
    (None once that is gone: the version deleted, or the content erased)."""
    if message.template_version_id:
        return db.session.get(TemplateVersion, message.template_version_id)
    return inline_version(message.content) if message.content else None


def recompose_message(message: Message) -> bytes | None:
    """The message rendered again from its version and data, as its recipient got it (only
    the Date header and DKIM signature are new); None once its content or sender is gone."""
    version = message_version(message)
    sender = db.session.get(Sender, message.sender_id) if message.sender_id else None
    if version is None or sender is None:
        return None
    project = db.session.get(Project, message.project_id)
    try:
        composed = _composer(project, sender, message).compose(
            message.id, message_recipient(message), "T", message.data
        )
    except RenderError:
        return None
    return composed.data


def _composer(project: Project, sender: Sender, message: Message) -> Composer:
    version = message_version(message)
    return Composer(
        kind="message",
        project=project,
        sender=sender,
        signer=LinkSigner.from_app("message", sender.tracking_domain),
        variants={"T": Variant(version)},
        feedback_id=f"{message.id}:{project.id}:transactional:mailapp",
        marketing=False,
        track_opens=message.track_opens,
        render=render_isolated,  # inline content comes from an API key: never hold the worker
    )


def message_recipient(message: Message) -> Recipient | Contact:
    contact = db.session.get(Contact, message.contact_id) if message.contact_id else None
    return contact or Recipient(email=message.recipient)


def _event(message: Message, kind: EventType, payload: dict) -> None:
    event = Event(
        project_id=message.project_id,
        type=kind,
        occurred_at=utcnow(),
        contact_id=message.contact_id,
        message_id=message.id,
        payload=payload,
    )
    db.session.add(event)
    fold_message_events(
        [
            {
                "project_id": event.project_id,
                "type": kind,
                "occurred_at": event.occurred_at,
                "message_id": message.id,
                "is_machine": False,
                "payload": payload,
            }
        ]
    )


def _finish(message: Message, status: DeliveryStatus, **values: object) -> str:
    message.status = status
    for name, value in values.items():
        setattr(message, name, value)
    db.session.commit()
    return status.value


def due_messages(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Queued or deferred messages whose time has come and that no queue holds."""
    now = now or utcnow()
    stale = now - timedelta(seconds=current_app.config["DISPATCH_RETRY_SECONDS"])
    ids = db.session.scalars(
        sa.select(Message.id)
        .where(
            Message.status.in_(OPEN),
            Message.scheduled_at <= now,
            sa.or_(Message.claimed_at.is_(None), Message.claimed_at < stale),
        )
        .order_by(Message.scheduled_at)
        .limit(limit)
    ).all()
    if ids:
        db.session.execute(
            sa.update(Message.__table__)
            .where(Message.__table__.c.id.in_(ids))
            .values(claimed_at=now)
        )
    db.session.commit()
    return list(ids)
