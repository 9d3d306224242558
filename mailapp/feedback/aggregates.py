"""The aggregates dashboards read, folded from each batch of events in set-based upserts.

DailyStat (per project, campaign, day and type), CampaignEngagement (per campaign and
contact) and LinkStat, plus each contact's engagement dates. A batch with `weight` -1 takes
its counts back out (a click reclassified as a machine's)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mailapp.extensions import db
from mailapp.models import (
    CampaignEngagement,
    Contact,
    DailyStat,
    Event,
    EventType,
    LinkStat,
)


def upsert(model: type, values: list[dict[str, Any]], keys: list[str], updates: dict) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, in the dialect of the bound database."""
    table = model.__table__
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=keys,
        set_={name: fn(table.c, insert.excluded) for name, fn in updates.items()},
    )
    db.session.execute(statement, values)


def counted_as(event: dict[str, Any]) -> list[EventType]:
    """The types an event counts as in the aggregates: its own, and "sent" for a message
    refused during the SMTP conversation (a hard bounce `at_send`), so that every report's
    sent counts each message handed to a receiving server once, accepted or not."""
    if event["type"] == EventType.BOUNCE_HARD and (event.get("payload") or {}).get("at_send"):
        return [EventType.BOUNCE_HARD, EventType.SENT]
    return [event["type"]]


def upsert_daily_stats(events: Iterable[dict[str, Any]]) -> None:
    """Add the events to the per-day counts (per project, campaign, type and machine flag)."""
    counts: dict[tuple[int, date, int, EventType, bool], int] = defaultdict(int)
    for e in events:
        day = e["occurred_at"].date()
        for type_ in counted_as(e):
            key = (e["project_id"], day, e["campaign_id"] or 0, type_, e["is_machine"])
            counts[key] += e.get("weight", 1)
    values = [
        {
            "project_id": project_id,
            "day": day,
            "campaign_id": campaign_id,
            "type": type_,
            "is_machine": is_machine,
            "count": count,
        }
        for (project_id, day, campaign_id, type_, is_machine), count in sorted(counts.items())
    ]
    upsert(
        DailyStat,
        values,
        ["project_id", "day", "campaign_id", "type", "is_machine"],
        {"count": lambda c, x: c.count + x.count},
    )


def _earliest(current: sa.ColumnElement, new: sa.ColumnElement) -> sa.ColumnElement:
    # Portable LEAST ignoring NULLs (SQLite's min() returns NULL when one side is NULL).
    return sa.case(
        (current.is_(None), new),
        (new.is_(None), current),
        (new < current, new),
        else_=current,
    )


def upsert_engagement(events: Iterable[dict[str, Any]]) -> None:
    """Add the events to each recipient's CampaignEngagement row (counts, first dates)."""
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for e in events:
        if e["type"] not in (EventType.OPEN, EventType.CLICK):
            continue
        if e["campaign_id"] is None or e["contact_id"] is None:
            continue  # transactional or anonymous: counted in DailyStat only
        row = rows.setdefault(
            (e["campaign_id"], e["contact_id"]),
            {
                "project_id": e["project_id"],
                "campaign_id": e["campaign_id"],
                "contact_id": e["contact_id"],
                "opens": 0,
                "clicks": 0,
                "machine_opens": 0,
                "machine_clicks": 0,
                "first_opened_at": None,
                "first_clicked_at": None,
            },
        )
        kind = "opens" if e["type"] == EventType.OPEN else "clicks"
        weight = e.get("weight", 1)
        if e["is_machine"]:
            row[f"machine_{kind}"] += weight
            continue
        row[kind] += weight
        if weight < 0:
            continue  # a correction: reclassify_as_machine recomputes the first dates
        first = "first_opened_at" if kind == "opens" else "first_clicked_at"
        if row[first] is None or e["occurred_at"] < row[first]:
            row[first] = e["occurred_at"]
    if not rows:
        return
    upsert(
        CampaignEngagement,
        [rows[key] for key in sorted(rows)],
        ["campaign_id", "contact_id"],
        {
            "opens": lambda c, x: c.opens + x.opens,
            "clicks": lambda c, x: c.clicks + x.clicks,
            "machine_opens": lambda c, x: c.machine_opens + x.machine_opens,
            "machine_clicks": lambda c, x: c.machine_clicks + x.machine_clicks,
            "first_opened_at": lambda c, x: _earliest(c.first_opened_at, x.first_opened_at),
            "first_clicked_at": lambda c, x: _earliest(c.first_clicked_at, x.first_clicked_at),
        },
    )


def upsert_link_stats(events: Iterable[dict[str, Any]]) -> None:
    """Add the click events to the per-link counts."""
    rows: dict[int, dict[str, Any]] = {}
    for e in events:
        if e["type"] != EventType.CLICK or e["link_id"] is None:
            continue
        row = rows.setdefault(
            e["link_id"],
            {
                "project_id": e["project_id"],
                "link_id": e["link_id"],
                "clicks": 0,
                "machine_clicks": 0,
            },
        )
        row["machine_clicks" if e["is_machine"] else "clicks"] += e.get("weight", 1)
    if rows:
        upsert(
            LinkStat,
            [rows[key] for key in sorted(rows)],
            ["link_id"],
            {
                "clicks": lambda c, x: c.clicks + x.clicks,
                "machine_clicks": lambda c, x: c.machine_clicks + x.machine_clicks,
            },
        )


def touch_contacts(events: Iterable[dict[str, Any]]) -> None:
    """Keep Contact.last_opened_at / last_clicked_at current for segments (humans only)."""
    latest: dict[str, dict[int, datetime]] = {"last_opened_at": {}, "last_clicked_at": {}}
    for e in events:
        if e["is_machine"] or e["contact_id"] is None:
            continue
        if e["type"] == EventType.OPEN:
            column = "last_opened_at"
        elif e["type"] == EventType.CLICK:
            column = "last_clicked_at"
        else:
            continue
        seen = latest[column].get(e["contact_id"])
        if seen is None or e["occurred_at"] > seen:
            latest[column][e["contact_id"]] = e["occurred_at"]
    table = Contact.__table__
    for column, by_contact in latest.items():
        if not by_contact:
            continue
        target = table.c[column]
        statement = (
            sa.update(table)
            .where(
                table.c.id == sa.bindparam("contact"),
                sa.or_(target.is_(None), target < sa.bindparam("at", type_=target.type)),
            )
            .values({column: sa.bindparam("at", type_=target.type)})
        )
        db.session.execute(
            statement,
            [{"contact": cid, "at": at} for cid, at in sorted(by_contact.items())],
            execution_options={"synchronize_session": False},
        )


def recompute_click_dates(events: list[dict[str, Any]]) -> None:
    """Read first/last click dates again from the human clicks left after a reclassification."""
    since = min(e["occurred_at"] for e in events)
    human_clicks = sa.select(Event.occurred_at).where(
        Event.type == EventType.CLICK, Event.is_machine.is_(False)
    )
    engagement = CampaignEngagement.__table__
    pairs = sorted({(e["campaign_id"], e["contact_id"]) for e in events if e["campaign_id"]})
    if pairs:
        first = (
            human_clicks.with_only_columns(sa.func.min(Event.occurred_at))
            .where(
                Event.campaign_id == engagement.c.campaign_id,
                Event.contact_id == engagement.c.contact_id,
            )
            .scalar_subquery()
        )
        db.session.execute(
            sa.update(engagement)
            .where(
                engagement.c.campaign_id == sa.bindparam("campaign"),
                engagement.c.contact_id == sa.bindparam("contact"),
                engagement.c.first_clicked_at >= since,
            )
            .values(first_clicked_at=first),
            [{"campaign": campaign, "contact": contact} for campaign, contact in pairs],
            execution_options={"synchronize_session": False},
        )
    contacts = Contact.__table__
    ids = sorted({e["contact_id"] for e in events if e["contact_id"]})
    if ids:
        last = (
            human_clicks.with_only_columns(sa.func.max(Event.occurred_at))
            .where(Event.contact_id == contacts.c.id)
            .scalar_subquery()
        )
        db.session.execute(
            sa.update(contacts)
            .where(contacts.c.id.in_(ids), contacts.c.last_clicked_at >= since)
            .values(last_clicked_at=last),
            execution_options={"synchronize_session": False},
        )
