"""Reading contacts: the support view of one contact, and pages of many."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa

from mailapp.audience.contacts import get_contact
from mailapp.audience.suppression import email_hash
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    ConsentRecord,
    Contact,
    ContactStatus,
    ContactTag,
    Event,
    Link,
    List,
    ListMembership,
    Suppression,
)


@dataclass
class ContactDetail:
    contact: Contact
    tags: list[str]
    memberships: list[tuple[ListMembership, str]]  # (membership, list name)
    consents: list[ConsentRecord]
    suppression: Suppression | None
    events: list[Event]
    # Names for the history: campaign id -> name, link id -> URL.
    campaign_names: dict[int, str] = field(default_factory=dict)
    link_urls: dict[int, str] = field(default_factory=dict)


def contact_detail(project_id: int, contact_id: int, *, events_limit: int = 200) -> ContactDetail:
    """Everything support staff need to answer "why did I get this?"."""
    contact = get_contact(project_id, contact_id)
    events = list(
        db.session.scalars(
            sa.select(Event)
            .where(Event.project_id == project_id, Event.contact_id == contact.id)
            .order_by(Event.occurred_at.desc(), Event.id.desc())
            .limit(events_limit)
        )
    )
    campaign_ids = {e.campaign_id for e in events if e.campaign_id}
    link_ids = {e.link_id for e in events if e.link_id}
    memberships = db.session.execute(
        sa.select(ListMembership, List.name)
        .join(List, List.id == ListMembership.list_id)
        .where(ListMembership.project_id == project_id, ListMembership.contact_id == contact.id)
        .order_by(List.name)
    ).all()
    return ContactDetail(
        contact=contact,
        tags=list(
            db.session.scalars(
                sa.select(ContactTag.tag)
                .where(ContactTag.project_id == project_id, ContactTag.contact_id == contact.id)
                .order_by(ContactTag.tag)
            )
        ),
        memberships=[(m, name) for m, name in memberships],
        consents=list(
            db.session.scalars(
                sa.select(ConsentRecord)
                .where(
                    ConsentRecord.project_id == project_id,
                    ConsentRecord.contact_id == contact.id,
                )
                .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
            )
        ),
        suppression=db.session.scalar(
            sa.select(Suppression).where(
                Suppression.project_id == project_id,
                Suppression.email_hash == email_hash(contact.email),
            )
        ),
        events=events,
        campaign_names=dict(
            db.session.execute(
                sa.select(Campaign.id, Campaign.name).where(
                    Campaign.project_id == project_id, Campaign.id.in_(campaign_ids)
                )
            ).all()
        )
        if campaign_ids
        else {},
        link_urls=dict(
            db.session.execute(
                sa.select(Link.id, Link.url).where(
                    Link.project_id == project_id, Link.id.in_(link_ids)
                )
            ).all()
        )
        if link_ids
        else {},
    )


# Above this many rows a planner estimate replaces COUNT(*), which reads every row.
EXACT_COUNT_LIMIT = 50_000


@dataclass(frozen=True)
class RowCount:
    value: int
    estimated: bool


def count_rows(query: sa.Select) -> RowCount:
    """How many rows a query returns: exact when few or on SQLite, else the planner's guess."""
    if db.engine.dialect.name == "postgresql":
        try:
            compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        except (sa.exc.CompileError, NotImplementedError):
            compiled = None  # a value with no literal form: count exactly
        if compiled is not None:
            plan = db.session.execute(sa.text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()
            if isinstance(plan, str):
                plan = json.loads(plan)
            guess = int(plan[0]["Plan"]["Plan Rows"])
            if guess > EXACT_COUNT_LIMIT:
                return RowCount(guess, True)
    exact = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return RowCount(int(exact or 0), False)


def list_contacts(
    project_id: int,
    *,
    after_id: int = 0,
    limit: int = 100,
    status: ContactStatus | None = None,
    list_id: int | None = None,
    email_contains: str | None = None,
) -> list[Contact]:
    """A page of contacts ordered by id (keyset pagination: pass the last id seen)."""
    query = sa.select(Contact).where(Contact.project_id == project_id, Contact.id > after_id)
    if status is not None:
        query = query.where(Contact.status == status)
    if list_id is not None:
        query = query.where(
            sa.exists().where(
                ListMembership.contact_id == Contact.id, ListMembership.list_id == list_id
            )
        )
    if email_contains:
        # Stored addresses are lower-cased, so a search typed in capitals still finds them.
        part = email_contains.strip().lower()
        query = query.where(Contact.email.contains(part, autoescape=True))
    return list(db.session.scalars(query.order_by(Contact.id).limit(min(max(limit, 1), 1000))))
