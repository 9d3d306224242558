"""The one writer of events: raw rows plus the aggregates dashboards read.

Every path that learns something happened to mail (tracking, unsubscribe, bounces,
complaints, ESP webhooks) hands rows to `record_events`. It inserts the raw `Event`
rows and folds the same batch into `DailyStat`, `CampaignEngagement`, `LinkStat` and the
contact's engagement dates in a handful of set-based upserts, so aggregates never drift from the
events they summarize and dashboards never scan raw events. Rows carrying a `hit_key` (opens and
clicks from the hit spool) whose key is already recorded are left out, of the events and of
the aggregates, so a batch recorded twice after a crash counts once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mailapp.access.audit import Actor, record_audit
from mailapp.access.projects import DEFAULT_SETTINGS
from mailapp.extensions import db
from mailapp.models import (
    CampaignEngagement,
    Contact,
    DailyStat,
    Event,
    EventType,
    LinkStat,
    Project,
)
from mailapp.models.base import utcnow

DEFAULT_RETENTION_DAYS = DEFAULT_SETTINGS["event_retention_days"]
EVENT_KEYS = (
    "project_id",
    "type",
    "occurred_at",
    "campaign_id",
    "contact_id",
    "delivery_id",
    "message_id",
    "link_id",
    "is_machine",
    "payload",
    "hit_key",
)


def record_events(rows: list[dict[str, Any]], *, commit: bool = True) -> int:
    """Insert events and update DailyStat, CampaignEngagement, LinkStat and contact dates.

    Returns how many events were inserted: rows whose `hit_key` is already recorded are not.
    """
    events = _insert_new([_normalize(row) for row in rows])
    if events:
        _upsert_daily_stats(events)
        _upsert_engagement(events)
        _upsert_link_stats(events)
        _touch_contacts(events)
    if commit:
        db.session.commit()
    return len(events)


def _insert_new(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the events; those whose hit_key is already recorded (or repeated) are left out.

    A plain multi-row INSERT (RETURNING would cost more than the rest of a drain): should
    another writer record one of these keys meanwhile, the unique key refuses the insert
    and the batch is recorded again later, with that key then seen here.
    """
    keys = [e["hit_key"] for e in events if e["hit_key"]]
    if keys:
        recorded = set(db.session.scalars(sa.select(Event.hit_key).where(Event.hit_key.in_(keys))))
        unique: dict[Any, dict[str, Any]] = {}
        for index, e in enumerate(events):
            if e["hit_key"] not in recorded:
                unique.setdefault(e["hit_key"] or index, e)
        events = list(unique.values())
    if events:
        # Core, not ORM: the ORM splits a batch wherever the None columns change (an open
        # then a click), one statement per run; Core sends the whole batch at once.
        db.session.execute(sa.insert(Event.__table__), events)
    return events


def _normalize(row: dict[str, Any]) -> dict[str, Any]:
    unknown = set(row) - set(EVENT_KEYS)
    if unknown:
        raise ValueError(f"unknown event keys: {sorted(unknown)}")
    occurred_at = row["occurred_at"]
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware UTC")
    return {
        "project_id": row["project_id"],
        "type": EventType(row["type"]),
        "occurred_at": occurred_at,
        "campaign_id": row.get("campaign_id"),
        "contact_id": row.get("contact_id"),
        "delivery_id": row.get("delivery_id"),
        "message_id": row.get("message_id"),
        "link_id": row.get("link_id"),
        "is_machine": bool(row.get("is_machine", False)),
        "payload": row.get("payload") or {},
        "hit_key": row.get("hit_key"),
    }


def _upsert(model: type, values: list[dict[str, Any]], keys: list[str], updates: dict) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, in the dialect of the bound database."""
    table = model.__table__
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=keys,
        set_={name: fn(table.c, insert.excluded) for name, fn in updates.items()},
    )
    db.session.execute(statement, values)


def _upsert_daily_stats(events: Iterable[dict[str, Any]]) -> None:
    counts: dict[tuple[int, date, int, EventType, bool], int] = defaultdict(int)
    for e in events:
        day = e["occurred_at"].date()
        key = (e["project_id"], day, e["campaign_id"] or 0, e["type"], e["is_machine"])
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
    _upsert(
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


def _upsert_engagement(events: Iterable[dict[str, Any]]) -> None:
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
    _upsert(
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


def _upsert_link_stats(events: Iterable[dict[str, Any]]) -> None:
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
        _upsert(
            LinkStat,
            [rows[key] for key in sorted(rows)],
            ["link_id"],
            {
                "clicks": lambda c, x: c.clicks + x.clicks,
                "machine_clicks": lambda c, x: c.machine_clicks + x.machine_clicks,
            },
        )


def _touch_contacts(events: Iterable[dict[str, Any]]) -> None:
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


def reclassify_as_machine(event_ids: Iterable[int], reason: str) -> int:
    """Flag recorded human clicks as machine ones and move their counts in every aggregate.

    For a scanner burst noticed only when its last clicks arrive. The counts move from the
    human to the machine columns; first/last click dates touched by these events are read
    again from the human clicks left (raw events are kept far longer than a burst lasts).
    Returns how many events changed; the caller commits.
    """
    table = Event.__table__
    rows = db.session.execute(
        sa.select(table).where(
            table.c.id.in_(sorted(set(event_ids))),
            table.c.type == EventType.CLICK,
            table.c.is_machine.is_(False),
        )
    ).mappings()
    events = [dict(row) for row in rows]
    if not events:
        return 0
    db.session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("event_id"))
        .values(is_machine=True, payload=sa.bindparam("new_payload", type_=table.c.payload.type)),
        [{"event_id": e["id"], "new_payload": {**e["payload"], "machine": reason}} for e in events],
        execution_options={"synchronize_session": False},
    )
    moves = [{**e, "weight": -1} for e in events] + [
        {**e, "is_machine": True, "weight": 1} for e in events
    ]
    _upsert_daily_stats(moves)
    _upsert_engagement(moves)
    _upsert_link_stats(moves)
    _recompute_click_dates(events)
    return len(events)


def _recompute_click_dates(events: list[dict[str, Any]]) -> None:
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


def purge_expired_events(*, chunk: int = 10_000, now: datetime | None = None) -> int:
    """Delete raw events older than each project's retention, in chunks; aggregates stay.

    Returns how many rows went. Each chunk is its own short transaction, so a purge of
    millions of rows never holds a long lock; one audit entry per project says how many.
    """
    now = now or utcnow()
    total = 0
    projects = db.session.execute(sa.select(Project.id, Project.settings)).all()
    for project_id, settings in projects:
        days = (settings or {}).get("event_retention_days", DEFAULT_RETENTION_DAYS)
        if not days:
            continue  # 0 or None: keep raw events forever
        cutoff = now - timedelta(days=int(days))
        deleted = 0
        while True:
            doomed = (
                sa.select(Event.id)
                .where(Event.project_id == project_id, Event.occurred_at < cutoff)
                .limit(chunk)
                .scalar_subquery()
            )
            result = db.session.execute(
                sa.delete(Event).where(Event.id.in_(doomed)),
                execution_options={"synchronize_session": False},
            )
            db.session.commit()
            deleted += result.rowcount
            if result.rowcount < chunk:
                break
        if deleted:
            record_audit(
                Actor.system("retention"),
                "events.purge",
                project_id=project_id,
                context={"deleted": deleted, "before": cutoff.isoformat(), "days": int(days)},
            )
            db.session.commit()
        total += deleted
    return total
