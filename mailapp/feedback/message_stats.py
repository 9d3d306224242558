"""Hourly transactional counts per project, template and tag, folded from each batch of
message events in one set-based upsert, so the transactional dashboard never reads raw events.

Besides the event types ("sent", "bounce_hard", "open", "machine_open" ...) it counts
"accepted" (taken by the API), "unique_open"/"unique_click" (a message's first human open or
click: `Message.first_opened_at` is set once, by an UPDATE that only matches while it is
empty) and, per sent message, the bucket of the time from the API call to the mail server's
2xx reply ("latency_le_1000"), from which the dashboard reads the median and p95.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.aggregates import counted_as, upsert
from mailapp.feedback.report_stats import hour_of
from mailapp.models import EventType, Message, MessageStat, MessageTag

# Upper bounds in milliseconds; beyond the last: "latency_gt_<last>".
LATENCY_BUCKETS_MS = (
    250,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    900_000,
    3_600_000,
    21_600_000,
)
LATENCY_OVERFLOW = f"latency_gt_{LATENCY_BUCKETS_MS[-1]}"
FIRSTS = {EventType.OPEN: "first_opened_at", EventType.CLICK: "first_clicked_at"}


def latency_metric(seconds: float) -> str:
    """The latency bucket a wait from API call to acceptance falls in."""
    ms = seconds * 1000
    for bound in LATENCY_BUCKETS_MS:
        if ms <= bound:
            return f"latency_le_{bound}"
    return LATENCY_OVERFLOW


def _metric(type_: EventType | str, is_machine: bool) -> str:
    return f"machine_{type_}" if is_machine else str(type_)


def fold_message_events(events: Iterable[dict[str, Any]]) -> None:
    """Add the events that name a transactional message to MessageStat (the caller commits).

    Each event is a dict like `record_events` takes: project_id, type, occurred_at,
    message_id, is_machine, payload, and an optional `weight` (-1 takes a count back out).
    The type may also be "accepted" (the API took the message).
    """
    events = [e for e in events if e.get("message_id")]
    if not events:
        return
    ids = sorted({e["message_id"] for e in events})
    messages = {
        row.id: row
        for row in db.session.execute(
            sa.select(Message.id, Message.template_id, Message.created_at).where(
                Message.id.in_(ids)
            )
        )
    }
    tags: dict[int, list[str]] = defaultdict(list)
    for message_id, tag in db.session.execute(
        sa.select(MessageTag.message_id, MessageTag.tag).where(MessageTag.message_id.in_(ids))
    ):
        tags[message_id].append(tag)
    firsts = _first_engagements(events)
    counts: dict[tuple[int, str, str, datetime, str], int] = defaultdict(int)
    for e in events:
        message = messages.get(e["message_id"])
        if message is None:
            continue
        metrics = _metrics_of(e, message.created_at, firsts)
        values = [("all", ""), ("template", str(message.template_id or ""))]
        values += [("tag", tag) for tag in tags[e["message_id"]]]
        hour = hour_of(e["occurred_at"])
        for metric in metrics:
            for dimension, value in values:
                counts[(e["project_id"], dimension, value, hour, metric)] += e.get("weight", 1)
    if counts:
        upsert(
            MessageStat,
            [
                {"project_id": p, "dimension": d, "value": v, "hour": h, "metric": m, "count": n}
                for (p, d, v, h, m), n in sorted(counts.items())
            ],
            ["project_id", "dimension", "value", "hour", "metric"],
            {"count": lambda c, x: c.count + x.count},
        )


def _metrics_of(
    event: dict[str, Any], created_at: datetime, firsts: set[tuple[int, str]]
) -> list[str]:
    if event["type"] == "accepted":
        return ["accepted"]
    type_ = EventType(event["type"])
    metrics = [_metric(t, event["is_machine"]) for t in counted_as(event)]
    if type_ == EventType.SENT and event.get("weight", 1) > 0:
        metrics.append(latency_metric((event["occurred_at"] - created_at).total_seconds()))
    if (event["message_id"], str(type_)) in firsts:
        firsts.discard((event["message_id"], str(type_)))  # one unique per message
        metrics.append(f"unique_{type_}")
    return metrics


def _first_engagements(events: list[dict[str, Any]]) -> set[tuple[int, str]]:
    """Set first_opened_at / first_clicked_at where still empty; the (message, type) pairs
    whose first human open or click this batch is."""
    firsts: set[tuple[int, str]] = set()
    table = Message.__table__
    for type_, column in FIRSTS.items():
        earliest: dict[int, datetime] = {}
        for e in events:
            if e["type"] != type_ or e["is_machine"] or e.get("weight", 1) < 0:
                continue
            seen = earliest.get(e["message_id"])
            if seen is None or e["occurred_at"] < seen:
                earliest[e["message_id"]] = e["occurred_at"]
        if not earliest:
            continue
        target = table.c[column]
        whens = [(table.c.id == i, sa.literal(at, target.type)) for i, at in earliest.items()]
        updated = db.session.execute(
            sa.update(table)
            .where(table.c.id.in_(sorted(earliest)), target.is_(None))
            .values({column: sa.case(*whens)})
            .returning(table.c.id),
            execution_options={"synchronize_session": False},
        )
        firsts |= {(message_id, str(type_)) for (message_id,) in updated}
    return firsts
