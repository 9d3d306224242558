"""Which mail a report is about: a campaign delivery or a transactional message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mailapp.audience.suppression import normalize_address
from mailapp.extensions import db
from mailapp.models import Contact, Delivery, Message
from mailapp.urls import Kind


@dataclass(frozen=True)
class Target:
    """The mail a report is about: a campaign delivery or a transactional message."""

    project_id: int
    address: str
    contact_id: int | None = None
    campaign_id: int | None = None
    delivery_id: int | None = None
    message_id: int | None = None


def target_for(kind: Kind, item_id: int) -> Target | None:
    """The delivery or message an id names (from a VERP or unsubscribe token)."""
    if kind == "delivery":
        row = db.session.execute(
            sa.select(Delivery.project_id, Contact.email, Delivery.contact_id, Delivery.campaign_id)
            .join(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.id == item_id)
        ).first()
        return row and Target(row[0], row[1], row[2], row[3], delivery_id=item_id)
    row = db.session.execute(
        sa.select(Message.project_id, Message.recipient, Message.contact_id).where(
            Message.id == item_id
        )
    ).first()
    return row and Target(row[0], row[1], row[2], message_id=item_id)


def find_target(
    *,
    project_id: int | None = None,
    provider_message_id: str | None = None,
    message_id_header: str | None = None,
    address: str | None = None,
) -> Target | None:
    """Find the mail a report names by provider id, Message-ID, then latest mail to the address.

    Without a project (a stray bounce), only the Message-ID may decide: an address alone
    could belong to several tenants.
    """
    scoped = [Delivery.project_id == project_id] if project_id else []
    scoped_msg = [Message.project_id == project_id] if project_id else []
    ids: list[tuple[Any, Any, Any]] = []
    if provider_message_id and project_id:
        ids.append((Delivery.provider_message_id, Message.provider_message_id, provider_message_id))
    if message_id_header:
        bare = message_id_header.strip().strip("<>")
        for value in (bare, f"<{bare}>"):
            ids.append((Delivery.message_id, Message.message_id, value))
    for delivery_column, message_column, value in ids:
        found = db.session.scalar(sa.select(Delivery.id).where(delivery_column == value, *scoped))
        if found:
            return target_for("delivery", found)
        found = db.session.scalar(sa.select(Message.id).where(message_column == value, *scoped_msg))
        if found:
            return target_for("message", found)
    if address and project_id:
        return _latest_to(project_id, address)
    return None


def _latest_to(project_id: int, address: str) -> Target | None:
    email = normalize_address(address)
    delivery = db.session.execute(
        sa.select(Delivery.id, Delivery.sent_at)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.project_id == project_id, Contact.email == email)
        .order_by(Delivery.sent_at.desc().nulls_last(), Delivery.id.desc())
        .limit(1)
    ).first()
    message = db.session.execute(
        sa.select(Message.id, Message.sent_at)
        .where(Message.project_id == project_id, sa.func.lower(Message.recipient) == email)
        .order_by(Message.sent_at.desc().nulls_last(), Message.id.desc())
        .limit(1)
    ).first()
    if delivery and message:
        never = datetime.min.replace(tzinfo=UTC)
        newer = (message.sent_at or never) > (delivery.sent_at or never)
        return target_for("message", message.id) if newer else target_for("delivery", delivery.id)
    if delivery or message:
        return (
            target_for("delivery", delivery.id) if delivery else target_for("message", message.id)
        )
    contact_id = db.session.scalar(
        sa.select(Contact.id).where(Contact.project_id == project_id, Contact.email == email)
    )
    return Target(project_id, email, contact_id) if contact_id else None
