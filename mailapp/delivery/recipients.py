"""Who a campaign goes to, as one SQL selection: its lists and/or its segment (the rule as
it stands when the campaign is prepared) and/or the non-openers of an earlier campaign,
minus suppression, minus contacts that are not active, minus quarantined contacts unless
included.

Audience: {"lists": [ids], "segment_id": id, "campaign_non_openers": id,
"include_quarantined": bool}. Non-openers are the earlier campaign's recipients whose
delivery was sent and who have no human open (nor human click: a click is an open whose
pixel was blocked); the set is fixed by that campaign's deliveries, so a resend never
reaches anyone the first campaign did not.

Suppression matches on the hash of the address (an erased person stays suppressed); each
contact's hash is stored with it (`Contact.email_hash`, kept by the database), so the
check is a join on stored values.

One page asks about the same audience several times (the review shows its size, its first
contact, the pre-flight line and the ETA by time zone), and at a million contacts each
reading is a full scan. So the readings are kept on the database session, keyed by the
audience: a page reads each once. Any write through the session (a flush, an INSERT/UPDATE/
DELETE statement) and any commit or rollback forgets them, so a reading is never older than
the transaction that made it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import orm

from mailapp.audience.segments.store import get_segment, segment_query
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

MEMO_KEY = "mailapp.audience_readings"
T = TypeVar("T")


def _forget(session: orm.Session, *_args: Any) -> None:
    session.info.pop(MEMO_KEY, None)


for _name in ("after_flush", "after_commit", "after_rollback", "after_soft_rollback"):
    sa.event.listen(orm.Session, _name, _forget)


@sa.event.listens_for(orm.Session, "do_orm_execute")
def _forget_on_write(state: orm.ORMExecuteState) -> None:
    if not state.is_select:
        _forget(state.session)


def _memo_key(kind: str, project_id: int, audience: dict) -> tuple[str, int, str]:
    return (kind, project_id, json.dumps(audience, sort_keys=True, default=str))


def _remembered(kind: str, project_id: int, audience: dict, read: Callable[[], T]) -> T:
    """read(), once per session transaction for this audience."""
    memo = db.session.info.setdefault(MEMO_KEY, {})
    key = _memo_key(kind, project_id, audience)
    if key not in memo:
        memo[key] = read()
    return memo[key]


def remember_zones(project_id: int, audience: dict, zones: list[tuple[str | None, int]]) -> None:
    """Take a reading made elsewhere (a worker's count) as this transaction's reading of the
    audience's time zones, so the questions asked of it after (size, ETA) agree with it."""
    db.session.info.setdefault(MEMO_KEY, {})[_memo_key("zones", project_id, audience)] = zones


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
            Suppression.email_hash == Contact.email_hash,
        ),
    ]
    if not quarantined:
        clauses.append(Contact.quarantined.is_(False))
    return clauses


def count_audience(project_id: int, audience: dict) -> int:
    """How many contacts the audience resolves to right now."""
    return sum(count for _zone, count in audience_zones(project_id, audience))


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

    def read() -> list[tuple[str | None, int]]:
        try:
            clauses = audience_filter(project_id, audience)
        except ServiceError:
            return []
        query = (
            sa.select(Contact.timezone, sa.func.count(Contact.id))
            .where(*clauses)
            .group_by(Contact.timezone)
        )
        if db.engine.dialect.name != "postgresql":
            return [(zone, count) for zone, count in db.session.execute(query)]
        # A count reads the whole audience, where hash joins are right whatever the planner
        # believes: with statistics older than a bulk load it expected one row and chose
        # nested loops that ran past the web worker's timeout. (On the connection, not the
        # session: a session statement that is not a SELECT would forget the readings.)
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_nestloop = off")
        try:
            return [(zone, count) for zone, count in connection.execute(query)]
        finally:
            connection.exec_driver_sql("SET LOCAL enable_nestloop = on")

    return _remembered("zones", project_id, audience, read)


def sample_recipient(project_id: int, audience: dict) -> Contact | None:
    """A real contact of the audience (the oldest), to preview the message as they get it."""

    def read() -> Contact | None:
        try:
            clauses = audience_filter(project_id, audience)
        except ServiceError:
            return None
        return db.session.scalar(sa.select(Contact).where(*clauses).order_by(Contact.id).limit(1))

    return _remembered("sample", project_id, audience, read)
