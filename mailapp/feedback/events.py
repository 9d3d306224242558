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

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.projects import DEFAULT_SETTINGS
from mailapp.extensions import db
from mailapp.feedback.aggregates import (
    recompute_click_dates,
    touch_contacts,
    upsert_daily_stats,
    upsert_engagement,
    upsert_link_stats,
)
from mailapp.feedback.guardrail_checks import check_after_commit
from mailapp.feedback.message_stats import fold_message_events
from mailapp.feedback.report_stats import upsert_breakdowns, upsert_hourly_stats
from mailapp.models import (
    Event,
    EventType,
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
    """Insert events and update DailyStat, CampaignEngagement, LinkStat, the report's
    HourlyStat and CampaignBreakdown, and contact dates.

    Returns how many events were inserted: rows whose `hit_key` is already recorded are not.
    """
    events = _insert_new([_normalize(row) for row in rows])
    if events:
        upsert_daily_stats(events)
        upsert_engagement(events)
        upsert_link_stats(events)
        upsert_hourly_stats(events)
        upsert_breakdowns(events)
        fold_message_events(events)
        touch_contacts(events)
        judged = (EventType.BOUNCE_HARD, EventType.COMPLAINT)
        check_after_commit(e["campaign_id"] for e in events if e["type"] in judged)
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
    upsert_daily_stats(moves)
    upsert_engagement(moves)
    upsert_link_stats(moves)
    upsert_hourly_stats(moves)
    upsert_breakdowns(moves)
    fold_message_events(moves)
    recompute_click_dates(events)
    return len(events)


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
