"""Who a campaign goes to, as one SQL selection: its lists and/or its segment (the rule as
it stands when the campaign is prepared), minus suppression, minus contacts that are not
active, minus quarantined contacts unless included.

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
from mailapp.models import Contact, ContactStatus, ListMembership, MembershipStatus, Suppression

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
    quarantined = bool(audience.get("include_quarantined"))
    if not list_ids and segment_id is None:
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
