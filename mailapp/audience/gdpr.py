"""GDPR requests: export one person's data; erase it, keeping only a hashed suppression."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.contact_reads import contact_detail
from mailapp.audience.contacts import get_contact
from mailapp.audience.suppression import suppress
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import (
    ConsentRecord,
    ContactStatus,
    ContactTag,
    Delivery,
    Event,
    InboundMessage,
    ListMembership,
    Message,
    SegmentMember,
    SuppressionReason,
)
from mailapp.models.base import utcnow

ERASED_DOMAIN = "erased.invalid"  # RFC 2606: can never be a real mailbox


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_contact(project_id: int, contact_id: int, *, actor: Actor) -> dict[str, Any]:
    """Everything we hold about one person, as JSON-ready data (audited)."""
    detail = contact_detail(project_id, contact_id, events_limit=100_000)
    contact = detail.contact
    data = {
        "exported_at": utcnow().isoformat(),
        "profile": {
            "email": contact.email,
            "email_as_given": contact.email_raw,
            "status": contact.status.value,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "attributes": contact.attributes,
            "timezone": contact.timezone,
            "locale": contact.locale,
            "source": contact.source,
            "tags": detail.tags,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
            "last_sent_at": _iso(contact.last_sent_at),
            "last_opened_at": _iso(contact.last_opened_at),
            "last_clicked_at": _iso(contact.last_clicked_at),
        },
        "lists": [
            {
                "list": name,
                "status": m.status.value,
                "joined_at": _iso(m.created_at),
                "confirmed_at": _iso(m.confirmed_at),
                "unsubscribed_at": _iso(m.unsubscribed_at),
            }
            for m, name in detail.memberships
        ],
        "consent": [
            {
                "list_id": c.list_id,
                "list": c.list_name,
                "source": c.source,
                "form_version": c.form_version,
                "consent_text_version": c.consent_text_version,
                "ip": c.ip,
                "user_agent": c.user_agent,
                "recorded_at": _iso(c.created_at),
                "confirmed_at": _iso(c.confirmed_at),
                "withdrawn_at": _iso(c.withdrawn_at),
            }
            for c in detail.consents
        ],
        "suppression": (
            {
                "reason": detail.suppression.reason.value,
                "since": _iso(detail.suppression.created_at),
            }
            if detail.suppression
            else None
        ),
        "events": [
            {
                "type": e.type.value,
                "at": _iso(e.occurred_at),
                "campaign_id": e.campaign_id,
                "machine": e.is_machine,
                "details": e.payload,
            }
            for e in detail.events
        ],
    }
    record_audit(actor, "contact.export", project_id=project_id, obj=contact)
    db.session.commit()
    return data


def erase_contact_confirmed(
    project_id: int, contact_id: int, typed: str | None, *, actor: Actor
) -> None:
    """Erase only when the agent typed the contact's address; anything else erases nothing."""
    contact = get_contact(project_id, contact_id)
    if contact.status is ContactStatus.ERASED:
        raise ServiceError("this contact is already erased")
    typed = (typed or "").strip()
    if not typed:
        raise ServiceError(f"confirmation: type {contact.email} to confirm the erasure")
    if typed.lower() not in {contact.email.lower(), (contact.email_raw or "").lower()}:
        raise ServiceError(
            f"confirmation: {typed!r} is not this contact's address; nothing was erased"
        )
    erase_contact(project_id, contact_id, actor=actor)


def erase_contact(project_id: int, contact_id: int, *, actor: Actor) -> None:
    """Remove a person's data; a hashed suppression entry keeps them from being mailed again."""
    contact = get_contact(project_id, contact_id)
    address = contact.email
    entry = suppress(
        project_id, address, SuppressionReason.ERASURE, actor=actor, source="gdpr", commit=False
    )
    entry.email = None  # the hash alone still matches the address if it ever comes back
    entry.note = None
    deliveries = sa.select(Delivery.id).where(
        Delivery.project_id == project_id, Delivery.contact_id == contact.id
    )
    messages = sa.select(Message.id).where(
        Message.project_id == project_id, Message.contact_id == contact.id
    )
    db.session.execute(
        sa.update(Event)
        .where(Event.project_id == project_id, Event.contact_id == contact.id)
        .values(payload={})
    )
    db.session.execute(
        sa.update(InboundMessage)
        .where(
            InboundMessage.project_id == project_id,
            sa.or_(
                InboundMessage.delivery_id.in_(deliveries),
                InboundMessage.recipients.contains(address.lower(), autoescape=True),
                InboundMessage.recipients.contains(address, autoescape=True),
            ),
        )
        .values(raw=b"", recipients=None, diagnostic=None)
    )
    db.session.execute(
        sa.update(Message)
        .where(Message.id.in_(messages))
        .values(recipient=f"erased-{contact.id}@{ERASED_DOMAIN}", data={}, content=None)
    )
    db.session.execute(
        sa.update(Delivery).where(Delivery.id.in_(deliveries)).values(last_reply=None)
    )
    db.session.execute(
        sa.update(ConsentRecord)
        .where(ConsentRecord.project_id == project_id, ConsentRecord.contact_id == contact.id)
        .values(ip=None, user_agent=None)
    )
    for model in (ListMembership, ContactTag, SegmentMember):
        db.session.execute(
            sa.delete(model).where(model.project_id == project_id, model.contact_id == contact.id)
        )
    contact.email = contact.email_raw = f"erased-{contact.id}@{ERASED_DOMAIN}"
    contact.first_name = contact.last_name = contact.timezone = contact.locale = None
    contact.source = None
    contact.attributes = {}
    contact.status, contact.erased_at = ContactStatus.ERASED, utcnow()
    record_audit(actor, "contact.erase", project_id=project_id, obj=contact)
    db.session.commit()
