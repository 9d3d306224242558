"""Who a campaign goes to, as one SQL selection: its lists and/or its segment (the rule as
it stands when the campaign is prepared) and/or the non-openers of an earlier campaign,
minus suppression, minus contacts that are not active, minus quarantined contacts unless
included.

Audience: {"lists": [ids], "segment_id": id, "campaign_non_openers": id,
"include_quarantined": bool}. Non-openers are the earlier campaign's recipients whose
delivery was sent and who have no human open (nor human click: a click is an open whose
pixel was blocked); the set is fixed by that campaign's deliveries, so a resend never
reaches anyone the first campaign did not.

Suppression matches on the hash of the address (an erased person stays suppressed), so
the hash is computed in SQL: PostgreSQL's sha256(), and on SQLite a function registered
on every connection.
"""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.audience.segments.store import get_segment, segment_query
from mailapp.audience.suppression import email_hash
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Contact,
    ContactStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    ListMembership,
    MembershipStatus,
    Suppression,
)

SQLITE_HASH_FUNCTION = "mailapp_email_hash"


@sa.event.listens_for(sa.Engine, "connect")
def _register_sqlite_hash(dbapi_connection, connection_record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.create_function(
            SQLITE_HASH_FUNCTION, 1, lambda e: email_hash(e) if e else None, deterministic=True
        )


def email_hash_sql(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """SQL for suppression.email_hash(column) on the current database."""
    if db.engine.dialect.name == "postgresql":
        normalized = sa.func.lower(sa.func.btrim(column))
        return sa.func.encode(sa.func.sha256(sa.func.convert_to(normalized, "UTF8")), "hex")
    return getattr(sa.func, SQLITE_HASH_FUNCTION)(column)


def audience_filter(project_id: int, audience: dict) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on Contact selecting the campaign's recipients."""
    list_ids = audience.get("lists") or []
    segment_id = audience.get("segment_id")
    non_openers_of = audience.get("campaign_non_openers")
    quarantined = bool(audience.get("include_quarantined"))
    if not list_ids and segment_id is None and non_openers_of is None:
        raise ServiceError("the audience names no list and no segment")
    sources = []
    if list_ids:
        sources.append(
            sa.exists().where(
                ListMembership.contact_id == Contact.id,
                ListMembership.list_id.in_(list_ids),
                ListMembership.status == MembershipStatus.CONFIRMED,
            )
        )
    if segment_id is not None:
        rule = get_segment(project_id, segment_id).rule
        sources.append(
            Contact.id.in_(segment_query(project_id, rule, include_quarantined=quarantined))
        )
    if non_openers_of is not None:
        sources.append(Contact.id.in_(non_openers_query(project_id, int(non_openers_of))))
    clauses = [
        Contact.project_id == project_id,
        Contact.status == ContactStatus.ACTIVE,
        sa.or_(*sources),
        ~sa.exists().where(
            Suppression.project_id == project_id,
            Suppression.email_hash == email_hash_sql(Contact.email),
        ),
    ]
    if not quarantined:
        clauses.append(Contact.quarantined.is_(False))
    return clauses


def count_audience(project_id: int, audience: dict) -> int:
    """How many contacts the audience resolves to right now."""
    try:
        clauses = audience_filter(project_id, audience)
    except ServiceError:
        return 0
    return db.session.scalar(sa.select(sa.func.count(Contact.id)).where(*clauses)) or 0


def non_openers_query(project_id: int, campaign_id: int) -> sa.Select:
    """SELECT contact ids a campaign was sent to that have no human open or click of it."""
    engaged = sa.exists().where(
        Event.project_id == project_id,
        Event.campaign_id == campaign_id,
        Event.type.in_((EventType.OPEN, EventType.CLICK)),
        Event.is_machine.is_(False),
        Event.contact_id == Delivery.contact_id,
    )
    return sa.select(Delivery.contact_id).where(
        Delivery.project_id == project_id,
        Delivery.campaign_id == campaign_id,
        Delivery.status == DeliveryStatus.SENT,
        ~engaged,
    )


def audience_zones(project_id: int, audience: dict) -> list[tuple[str | None, int]]:
    """(time zone, contacts) of the audience, one grouped query; None = no zone of its own."""
    try:
        clauses = audience_filter(project_id, audience)
    except ServiceError:
        return []
    rows = db.session.execute(
        sa.select(Contact.timezone, sa.func.count(Contact.id))
        .where(*clauses)
        .group_by(Contact.timezone)
    )
    return [(zone, count) for zone, count in rows]


def sample_recipient(project_id: int, audience: dict) -> Contact | None:
    """A real contact of the audience (the oldest), to preview the message as they get it."""
    try:
        clauses = audience_filter(project_id, audience)
    except ServiceError:
        return None
    return db.session.scalar(sa.select(Contact).where(*clauses).order_by(Contact.id).limit(1))
