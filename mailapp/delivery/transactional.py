"""Transactional mail: one recipient per Message, sent at once on its own queue.

An Idempotency-Key makes a repeated request within 24 hours return the first Message and
send nothing; the same key with a different request (another recipient, sender, template,
content or data) is refused (`IdempotencyConflict`), never answered as if it had been sent.
Hard bounces, complaints, erasures and manual entries on the suppression list always block;
marketing unsubscribes block only when TRANSACTIONAL_UNSUBSCRIBES=respect.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.exc import IntegrityError

from mailapp import tasks
from mailapp.access.audit import Actor, record_audit
from mailapp.audience.suppression import email_hash, normalize_address
from mailapp.content.rendering import RenderError, compile_content
from mailapp.delivery.message_tags import add_tags, clean_tags
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.feedback.message_stats import fold_message_events
from mailapp.models import (
    Contact,
    DeliveryStatus,
    Message,
    Project,
    Sender,
    Suppression,
    SuppressionReason,
    Template,
    TemplateVersion,
)
from mailapp.models.base import utcnow

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


def blocking_suppression(project_id: int, address: str) -> SuppressionReason | None:
    """The suppression that blocks transactional mail to this address, if any."""
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


class IdempotencyConflict(ServiceError):
    """The Idempotency-Key names an earlier message of a different request."""

    def __init__(self, key: str, message: Message) -> None:
        self.key = key
        super().__init__(
            f"Idempotency-Key {key!r} was already used in the last 24 hours for a different "
            f"request (message {message.id}); send a new key for a new message"
        )


def request_fingerprint(
    to: str,
    sender_id: int | None,
    template_id: int | None,
    content: dict | None,
    data: dict | None,
) -> str:
    """A digest of what a send request asks for, to tell a replay from another request."""
    canonical = json.dumps(
        {
            "to": to.strip().lower(),
            "sender_id": sender_id,
            "template_id": template_id,
            "content": content,
            "data": data or {},
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(found: Message, key: str, fingerprint: str) -> Message:
    # Rows stored before fingerprints were kept have none: they replay as before.
    if found.request_fingerprint not in (None, fingerprint):
        raise IdempotencyConflict(key, found)
    return found


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
    tags: object = None,
    resend_of_id: int | None = None,
    version_id: int | None = None,
    track_opens: object = False,
    now: datetime | None = None,
) -> tuple[Message, bool]:
    """Accept one message; (message, False) when the key names one from the last 24 h."""
    now = now or utcnow()
    fingerprint = request_fingerprint(to, sender_id, template_id, content, data)
    if idempotency_key and (found := _existing(project.id, idempotency_key, now)):
        return _replay(found, idempotency_key, fingerprint), False
    tags = clean_tags(tags)
    if not isinstance(track_opens, bool):
        raise ServiceError("track_opens: give true or false")
    try:
        address = validate_email(to, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ServiceError(f"recipient: {exc}") from None
    sender = _sender(project, sender_id)
    if version_id is not None:  # a resend: exactly the version the first one had
        template_id = db.session.scalar(
            sa.select(TemplateVersion.template_id).where(
                TemplateVersion.project_id == project.id, TemplateVersion.id == version_id
            )
        )
        if template_id is None:
            raise ServiceError("the template version of that message is gone")
    else:
        template_id, version_id, content = _content(project, template_id, content)
    # Mail goes to the address as given; the contact is found however its case was typed.
    contact_id = db.session.scalar(
        sa.select(Contact.id).where(
            Contact.project_id == project.id, Contact.email == normalize_address(address)
        )
    )
    message = Message(
        project_id=project.id,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint if idempotency_key else None,
        recipient=address,
        recipient_key=normalize_address(address),
        contact_id=contact_id,
        sender_id=sender.id,
        template_version_id=version_id,
        template_id=template_id,
        resend_of_id=resend_of_id,
        track_opens=track_opens,
        data=data or {},
        content=content,
        created_at=now,
        scheduled_at=now,
        claimed_at=now,  # handed to the queue now; dispatch re-sends it if that is lost
    )
    blocked = blocking_suppression(project.id, address)
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
        return _replay(found, idempotency_key or "", fingerprint), False
    add_tags(project.id, message.id, tags)
    db.session.flush()
    accepted = {"project_id": project.id, "type": "accepted", "occurred_at": now}
    fold_message_events([{**accepted, "message_id": message.id}])
    record_audit(
        actor,
        "message.submit",
        project_id=project.id,
        obj=message,
        context={
            "template_version_id": version_id,
            "status": message.status.value,
            "tags": tags,
            **({"resend_of": resend_of_id} if resend_of_id else {}),
        },
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
) -> tuple[int | None, int | None, dict | None]:
    """(template id, its published version id, inline content): one of the two kinds."""
    if (template_id is None) == (content is None):
        raise ServiceError("give either a template or inline content")
    if content is not None:
        if not content.get("subject") or not (content.get("html") or content.get("text")):
            raise ServiceError("inline content needs a subject and html or text")
        inline = {k: content.get(k) for k in ("subject", "html", "text")}
        try:
            compile_content(inline_version(inline))
        except RenderError as exc:
            raise ServiceError(str(exc)) from None
        return None, None, inline
    template = db.session.scalar(
        sa.select(Template).where(Template.project_id == project.id, Template.id == template_id)
    )
    if template is None:
        raise ServiceError("no such template in this project")
    if template.published_version_id is None:
        raise ServiceError("the template has no published version")
    return template.id, template.published_version_id, None


def inline_version(content: dict) -> TemplateVersion:
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
