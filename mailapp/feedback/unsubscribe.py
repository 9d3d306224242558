"""Unsubscribe: what a /u/<token> link names, and leaving one list or everything.

Leaving everything suppresses the address (suppression wins over every list and segment)
and marks every list membership unsubscribed; leaving one list only changes that
membership. Both withdraw consent in the append-only ledger and record an `unsubscribe`
event, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.suppression import is_suppressed, suppress
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.models import (
    Campaign,
    ConsentRecord,
    Contact,
    Delivery,
    EventType,
    List,
    ListMembership,
    MembershipStatus,
    Message,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from mailapp.tokens import BadToken
from mailapp.urls import Kind, read_single


@dataclass
class Subscriber:
    """Who an unsubscribe link names and what they are subscribed to."""

    kind: Kind
    item_id: int
    project_id: int
    email: str
    contact_id: int | None
    campaign_id: int | None
    suppressed: bool
    # (list id, name, status) of every membership; the campaign's own lists first.
    lists: list[tuple[int, str, MembershipStatus]] = field(default_factory=list)
    campaign_list_ids: list[int] = field(default_factory=list)

    @property
    def active_lists(self) -> list[tuple[int, str, MembershipStatus]]:
        return [item for item in self.lists if item[2] != MembershipStatus.UNSUBSCRIBED]


def find_subscriber(secret: str, token: str) -> Subscriber | None:
    """The subscriber a genuine unsubscribe token names; None for anything else."""
    for kind in ("delivery", "message"):
        try:
            item_id = read_single(secret, "unsubscribe", token, kind)
        except BadToken:
            continue
        return _load(kind, item_id)
    return None


def _load(kind: Kind, item_id: int) -> Subscriber | None:
    if kind == "delivery":
        row = db.session.execute(
            sa.select(
                Delivery.project_id, Contact.email, Contact.id, Campaign.id, Campaign.audience
            )
            .join(Contact, Contact.id == Delivery.contact_id)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Delivery.id == item_id)
        ).first()
    else:
        row = db.session.execute(
            sa.select(
                Message.project_id, Message.recipient, Message.contact_id, sa.null(), sa.null()
            ).where(Message.id == item_id)
        ).first()
    if row is None:
        return None
    project_id, email, contact_id, campaign_id, audience = row
    subscriber = Subscriber(
        kind=kind,
        item_id=item_id,
        project_id=project_id,
        email=email,
        contact_id=contact_id,
        campaign_id=campaign_id,
        suppressed=is_suppressed(project_id, email),
        campaign_list_ids=[int(i) for i in (audience or {}).get("lists", [])],
    )
    if contact_id is not None:
        memberships = db.session.execute(
            sa.select(List.id, List.name, ListMembership.status)
            .join(ListMembership, ListMembership.list_id == List.id)
            .where(ListMembership.project_id == project_id, ListMembership.contact_id == contact_id)
            .order_by(List.name)
        ).all()
        first = set(subscriber.campaign_list_ids)
        subscriber.lists = sorted(
            (tuple(m) for m in memberships), key=lambda m: (m[0] not in first, m[1])
        )
    return subscriber


def subscriber_for_contact(project_id: int, contact_id: int) -> Subscriber:
    """The subscriber a support agent acts for: a contact of the project, with its lists."""
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.project_id == project_id, Contact.id == contact_id)
    )
    if contact is None:
        raise NotFound("no such contact")
    rows = db.session.execute(
        sa.select(List.id, List.name, ListMembership.status)
        .join(ListMembership, ListMembership.list_id == List.id)
        .where(ListMembership.project_id == project_id, ListMembership.contact_id == contact.id)
        .order_by(List.name)
    ).all()
    return Subscriber(
        kind="contact",  # type: ignore[arg-type]  # named in sources; no delivery or message
        item_id=contact.id,
        project_id=project_id,
        email=contact.email,
        contact_id=contact.id,
        campaign_id=None,
        suppressed=is_suppressed(project_id, contact.email),
        lists=[tuple(row) for row in rows],  # type: ignore[misc]
    )


def unsubscribe(
    subscriber: Subscriber,
    *,
    list_id: int | None = None,
    method: str,
    actor: Actor,
) -> bool:
    """Leave one list (list_id) or everything (None); False when nothing was left to change.

    `method` says how ("one-click", "page", "preferences") and is kept on the event,
    the consent ledger and the suppression entry.
    """
    now = utcnow()
    membership_filter = [
        ListMembership.project_id == subscriber.project_id,
        ListMembership.contact_id == subscriber.contact_id,
        ListMembership.status != MembershipStatus.UNSUBSCRIBED,
    ]
    if list_id is not None:
        if list_id not in {item[0] for item in subscriber.lists}:
            raise NotFound("not subscribed to that list")
        membership_filter.append(ListMembership.list_id == list_id)
    left = []
    if subscriber.contact_id is not None:
        left = list(
            db.session.scalars(
                sa.update(ListMembership)
                .where(*membership_filter)
                .values(status=MembershipStatus.UNSUBSCRIBED, unsubscribed_at=now)
                .returning(ListMembership.list_id)
            )
        )
    newly_suppressed = list_id is None and not subscriber.suppressed
    if not left and not newly_suppressed:
        return False
    source = f"{method} unsubscribe ({subscriber.kind} {subscriber.item_id})"
    if newly_suppressed:
        # Writes this call's audit entry ("suppression.add").
        suppress(
            subscriber.project_id,
            subscriber.email,
            SuppressionReason.UNSUBSCRIBE,
            actor=actor,
            source=source[:200],
            commit=False,
        )
    else:
        record_audit(
            actor,
            "list.unsubscribe",
            project_id=subscriber.project_id,
            context={"contact_id": subscriber.contact_id, "lists": left, "method": method},
        )
    if subscriber.contact_id is not None:
        names = {item[0]: item[1] for item in subscriber.lists}
        for withdrawn in left or [None]:
            db.session.add(
                ConsentRecord(
                    project_id=subscriber.project_id,
                    contact_id=subscriber.contact_id,
                    list_id=withdrawn,
                    list_name=names.get(withdrawn),
                    source=f"unsubscribe:{method}"[:64],
                    ip=actor.ip,
                    withdrawn_at=now,
                )
            )
    record_events(
        [
            {
                "project_id": subscriber.project_id,
                "type": EventType.UNSUBSCRIBE,
                "occurred_at": now,
                "campaign_id": subscriber.campaign_id,
                "contact_id": subscriber.contact_id,
                "delivery_id": subscriber.item_id if subscriber.kind == "delivery" else None,
                "message_id": subscriber.item_id if subscriber.kind == "message" else None,
                "link_id": None,
                "is_machine": False,
                "payload": {"method": method, "lists": left, "everything": list_id is None},
            }
        ],
        commit=False,
    )
    db.session.commit()
    return True
