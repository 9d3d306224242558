"""Transactional mail: one recipient per Message, sent at once on its own queue.

An Idempotency-Key makes a repeated request within 24 hours return the first Message and
send nothing. Hard bounces, complaints, erasures and manual entries on the suppression list
always block; marketing unsubscribes block only when TRANSACTIONAL_UNSUBSCRIBES=respect.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.exc import IntegrityError

from mailapp import tasks
from mailapp.access.audit import Actor, record_audit
from mailapp.audience.suppression import email_hash, suppress
from mailapp.content.rendering import RenderError, compile_content
from mailapp.delivery.batches import transport_pool
from mailapp.delivery.campaigns import PIPELINE
from mailapp.delivery.compose import Composer, Variant
from mailapp.delivery.outcomes import asks_to_slow_down, is_hard_bounce
from mailapp.delivery.ratelimits import RateLimiter, domain_group
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db, get_redis
from mailapp.mail.transports import transport_url_for
from mailapp.models import (
    Contact,
    DeliveryStatus,
    Event,
    EventType,
    Message,
    Project,
    Sender,
    Suppression,
    SuppressionReason,
    Template,
    TemplateVersion,
)
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner

IDEMPOTENCY_WINDOW = timedelta(hours=24)
OPEN = (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """What a transactional template sees of its recipient (a Contact when there is one)."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    attributes: dict = field(default_factory=dict)


def _blocking_suppression(project_id: int, address: str) -> SuppressionReason | None:
    reason = db.session.scalar(
        sa.select(Suppression.reason).where(
            Suppression.project_id == project_id, Suppression.email_hash == email_hash(address)
        )
    )
    if reason is None:
        return None
    respect = current_app.config["TRANSACTIONAL_UNSUBSCRIBES"] == "respect"
    if reason == SuppressionReason.UNSUBSCRIBE and not respect:
        return None
    return SuppressionReason(reason)


def _existing(project_id: int, key: str, now: datetime) -> Message | None:
    message = db.session.scalar(
        sa.select(Message).where(Message.project_id == project_id, Message.idempotency_key == key)
    )
    if message is not None and message.created_at < now - IDEMPOTENCY_WINDOW:
        message.idempotency_key = None  # expired: the key may name a new message
        db.session.flush()
        return None
    return message


def submit_message(
    project: Project,
    *,
    actor: Actor,
    to: str,
    sender_id: int | None = None,
    template_id: int | None = None,
    content: dict | None = None,
    data: dict | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[Message, bool]:
    """Accept one message; (message, False) when the key names one from the last 24 h."""
    now = now or utcnow()
    if idempotency_key and (found := _existing(project.id, idempotency_key, now)):
        return found, False
    try:
        address = validate_email(to, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ServiceError(f"recipient: {exc}") from None
    sender = _sender(project, sender_id)
    version_id, content = _content(project, template_id, content)
    contact_id = db.session.scalar(
        sa.select(Contact.id).where(Contact.project_id == project.id, Contact.email == address)
    )
    message = Message(
        project_id=project.id,
        idempotency_key=idempotency_key,
        recipient=address,
        contact_id=contact_id,
        sender_id=sender.id,
        template_version_id=version_id,
        data=data or {},
        content=content,
        scheduled_at=now,
        claimed_at=now,  # handed to the queue now; dispatch re-sends it if that is lost
    )
    blocked = _blocking_suppression(project.id, address)
    if blocked is not None:
        message.status = DeliveryStatus.SUPPRESSED
        message.reason = f"suppressed: {blocked.value}"
    db.session.add(message)
    try:
        db.session.flush()
    except IntegrityError:
        # The same key raced us: the first request's message is the answer.
        db.session.rollback()
        found = _existing(project.id, idempotency_key or "", now)
        if found is None:
            raise
        return found, False
    record_audit(
        actor,
        "message.submit",
        project_id=project.id,
        obj=message,
        context={"template_version_id": version_id, "status": message.status.value},
    )
    db.session.commit()
    return message, True


def request_send(message_id: int) -> None:
    """Hand an accepted message to a worker now; without Redis it stays stored, and the
    dispatch tick sends it once its claim is old (`claimed_at` was set at submit)."""
    try:
        tasks.send_message(message_id)
    except redis.RedisError as exc:
        log.warning("message %s not enqueued now: %s", message_id, exc)


def _sender(project: Project, sender_id: int | None) -> Sender:
    query = sa.select(Sender).where(Sender.project_id == project.id)
    query = query.where(Sender.id == sender_id) if sender_id else query.order_by(Sender.id)
    sender = db.session.scalars(query.limit(1)).first()
    if sender is None:
        raise ServiceError("no such sender in this project" if sender_id else "add a sender first")
    return sender


def _content(
    project: Project, template_id: int | None, content: dict | None
) -> tuple[int | None, dict | None]:
    if (template_id is None) == (content is None):
        raise ServiceError("give either a template or inline content")
    if content is not None:
        if not content.get("subject") or not (content.get("html") or content.get("text")):
            raise ServiceError("inline content needs a subject and html or text")
        inline = {k: content.get(k) for k in ("subject", "html", "text")}
        try:
            compile_content(_inline_version(inline))
        except RenderError as exc:
            raise ServiceError(str(exc)) from None
        return None, inline
    template = db.session.scalar(
        sa.select(Template).where(Template.project_id == project.id, Template.id == template_id)
    )
    if template is None:
        raise ServiceError("no such template in this project")
    if template.published_version_id is None:
        raise ServiceError("the template has no published version")
    return template.published_version_id, None


def _inline_version(content: dict) -> TemplateVersion:
    """An unsaved version carrying inline API content, so it renders like any other."""
    html = content.get("html") or ""
    return TemplateVersion(
        id=None,
        number=0,
        subject=content["subject"],
        preheader=None,
        html=html or f"<pre>{content.get('text') or ''}</pre>",
        text=content.get("text"),
        locale="en",
        locale_variants={},
    )


def get_message(project_id: int, message_id: int) -> Message:
    message = db.session.scalar(
        sa.select(Message).where(Message.project_id == project_id, Message.id == message_id)
    )
    if message is None:
        raise NotFound("no such message")
    return message


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
    blocked = _blocking_suppression(project.id, message.recipient)
    if blocked is not None:
        return _finish(message, DeliveryStatus.SUPPRESSED, reason=f"suppressed: {blocked.value}")
    sender = db.session.get(Sender, message.sender_id)
    limiter = RateLimiter(
        get_redis(),
        project,
        sender,
        throttle_rate=current_app.config["THROTTLE_RATE"],
        throttle_seconds=current_app.config["THROTTLE_SECONDS"],
    )
    group = domain_group(message.recipient)
    grant = limiter.acquire(group, 1, utcnow())
    if not grant.granted:
        wait = (grant.retry_at - utcnow()).total_seconds()
        if wait > current_app.config["RATE_LIMIT_MAX_WAIT"]:
            message.attempts -= 1
            return _finish(
                message, DeliveryStatus.QUEUED, scheduled_at=grant.retry_at, claimed_at=None
            )
        time.sleep(max(wait, 0.01))
    composed = _composer(project, sender, message).compose(
        message.id, message_recipient(message), "T", message.data
    )
    with transport_pool().connection(transport_url_for(sender)) as transport:
        result = transport.send(composed.mail_from, composed.rcpt_to, composed.data)
    if asks_to_slow_down(result):
        limiter.slow_down(group)
    reply = f"{result.code or ''} {result.reply}".strip()[:2000]
    message.message_id = composed.message_id
    if result.outcome == "sent":
        _event(message, EventType.SENT, {})
        return _finish(message, DeliveryStatus.SENT, last_reply=reply, sent_at=utcnow())
    if result.outcome == "unknown":
        return _finish(message, DeliveryStatus.UNKNOWN, last_reply=reply, reason="lost after DATA")
    backoff = current_app.config["SEND_BACKOFF"]
    if result.outcome == "deferred" and message.attempts <= len(backoff):
        later = utcnow() + timedelta(seconds=backoff[message.attempts - 1])
        return _finish(
            message, DeliveryStatus.DEFERRED, last_reply=reply, scheduled_at=later, claimed_at=None
        )
    reason = "retries exhausted" if result.outcome == "deferred" else "refused"
    if is_hard_bounce(result):
        payload = {"code": result.code, "enhanced_code": result.enhanced_code, "reply": reply}
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


def message_version(message: Message) -> TemplateVersion | None:
    """What a message renders: its template version, or a version made of its inline content
    (None once that is gone: the version deleted, or the content erased)."""
    if message.template_version_id:
        return db.session.get(TemplateVersion, message.template_version_id)
    return _inline_version(message.content) if message.content else None


def _composer(project: Project, sender: Sender, message: Message) -> Composer:
    version = message_version(message)
    return Composer(
        kind="message",
        project=project,
        sender=sender,
        signer=LinkSigner.from_app("message"),
        variants={"T": Variant(version)},
        feedback_id=f"{message.id}:{project.id}:transactional:mailapp",
        marketing=False,
    )


def message_recipient(message: Message) -> Recipient | Contact:
    contact = db.session.get(Contact, message.contact_id) if message.contact_id else None
    return contact or Recipient(email=message.recipient)


def _event(message: Message, kind: EventType, payload: dict) -> None:
    db.session.add(
        Event(
            project_id=message.project_id,
            type=kind,
            contact_id=message.contact_id,
            message_id=message.id,
            payload=payload,
        )
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
