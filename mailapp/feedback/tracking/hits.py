"""Opens and clicks: reading open tokens, spooling hits, and turning hits into events.

The request path does as little as it can: it checks the token and appends one line to this
process's hit spool (`hit_spool`), a local file; it never waits for Redis or the database.
The spool's thread ships lines to the Redis buffer (`event_buffer`) in bulk, or straight to
the database while Redis is down. The drain resolves hits in bulk (one query per batch),
classifies the agent, applies the project's privacy mode and the machine rules (including
scanner bursts begun in an earlier batch), and hands rows to `events.record_events`, which
records each spool key once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import redis
import sqlalchemy as sa
from flask import Flask, current_app

from mailapp import clock
from mailapp.extensions import db, get_redis
from mailapp.feedback.events import reclassify_as_machine, record_events
from mailapp.feedback.tracking import event_buffer
from mailapp.feedback.tracking.agents import (
    SCAN_BURST_WINDOW,
    classify_agent,
    is_prefetch,
    scan_bursts,
)
from mailapp.feedback.tracking.click_targets import KINDS
from mailapp.feedback.tracking.hit_spool import HitSpool, Shipper, spool_directory
from mailapp.models import Delivery, Event, EventType, Message, Project
from mailapp.tokens import BadToken
from mailapp.urls import Kind, read_single

log = logging.getLogger(__name__)

# The smallest valid GIF89a: one transparent pixel (43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
TRACKING_MODES = ("full", "anonymous", "off")
# Seconds between two shipments of a web process's spool to Redis.
SHIP_INTERVAL = 0.05


class Hit(NamedTuple):
    """One open or click as the request saw it, with its spool key once shipped."""

    key: uuid.UUID | None
    event: Literal["open", "click"]
    kind: Kind
    item_id: int
    link_id: int | None
    at: float  # epoch seconds
    ua: str | None
    ip: str | None

    @classmethod
    def loads(cls, raw: str | bytes) -> Hit:
        """A buffered hit: a JSON array, the key first (as hex)."""
        key, *fields = json.loads(raw)
        hit = cls(uuid.UUID(hex=key), *fields)
        if hit.event not in ("open", "click") or hit.kind not in KINDS:
            raise ValueError("not a hit")
        return hit


def hit_line(
    event: Literal["open", "click"],
    kind: Kind,
    item_id: int,
    link_id: int | None,
    user_agent: str,
    ip: str | None,
) -> bytes:
    """A hit as one spool line; the agent is classified later, by the drain."""
    fields = [
        event,
        kind,
        item_id,
        link_id,
        round(time.time() + clock.offset_seconds(), 3),
        user_agent[:512] or None,
        ip,
    ]
    return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def hit_spool(app: Flask) -> HitSpool:
    """The app's spool in this process (created on first use, opened on first append)."""
    spool = app.extensions.get("hit_spool")
    if spool is None:
        # Tests ship by hand (drain_hits); servers ship from a thread.
        interval = None if app.testing else SHIP_INTERVAL
        directory = spool_directory(app.config["TRACKING_SPOOL_DIR"])
        spool = HitSpool(directory, _shipper(app), interval=interval)
        app.extensions["hit_spool"] = spool
    return spool


def spool_hit(spool: HitSpool, line: bytes) -> None:
    """Append a hit to the spool; if the disk refuses it, ship it at once instead."""
    try:
        spool.append(line)
    except OSError as exc:
        log.warning("hit spool unavailable (%s); shipping the hit directly", exc)
        spool.shipper([(uuid.uuid4(), line.rstrip(b"\n"))])


def _shipper(app: Flask) -> Shipper:
    """Ship spool lines to the Redis buffer; while Redis is down, record them directly."""

    def ship(records: list[tuple[uuid.UUID, bytes]]) -> None:
        items = [b'["%s",%s' % (key.hex.encode(), line[1:]) for key, line in records]
        try:
            event_buffer.push(app.extensions["redis"], items)
        except redis.RedisError as exc:
            log.warning("event buffer unavailable (%s); writing %d hits directly", exc, len(items))
            with app.app_context():
                _record_raw(items)

    return ship


def flush_hits() -> int:
    """Ship this process's spool and the orphaned spools of dead processes on this host."""
    spool = hit_spool(current_app._get_current_object())
    return spool.flush() + spool.adopt_orphans()


def read_open_token(secret: str, token: str) -> tuple[Kind, int] | None:
    """The delivery or message an open token names, or None when it is not ours."""
    for kind in KINDS:
        try:
            return kind, read_single(secret, "open", token, kind)
        except BadToken:
            continue
    return None


def record_hits(hits: list[Hit]) -> int:
    """Resolve hits in bulk and record the events they make; returns how many were recorded."""
    rows, clicks = hits_to_rows(hits)
    late = _flag_scan_bursts(clicks, _recent_clicks(rows))
    recorded = record_events(rows, commit=False)
    if late:
        reclassify_as_machine(late, "scan_burst")
    db.session.commit()
    return recorded


def hits_to_rows(hits: list[Hit]) -> tuple[list[dict[str, Any]], list[tuple]]:
    """Event rows for hits: privacy mode applied, machine hits flagged, strays dropped.

    Also returns the clicks as (message key, link id, time, row) for the burst rule.
    """
    targets = _targets(hits)
    rows: list[dict[str, Any]] = []
    clicks: list[tuple] = []
    for hit in hits:
        target = targets.get((hit.kind, hit.item_id))
        if target is None:
            continue  # the delivery was deleted since, or never existed in this database
        mode = (target["settings"] or {}).get("tracking", "full")
        if mode not in TRACKING_MODES or mode == "off":
            continue
        occurred_at = datetime.fromtimestamp(hit.at, UTC)
        machine = classify_agent(hit.ua, hit.ip) or (
            "prefetch" if is_prefetch(occurred_at, target["sent_at"]) else None
        )
        anonymous = mode == "anonymous"
        payload = {} if anonymous else {"ua": (hit.ua or "")[:256] or None, "ip": hit.ip}
        if machine:
            payload["machine"] = machine
        row = {
            "project_id": target["project_id"],
            "type": EventType.OPEN if hit.event == "open" else EventType.CLICK,
            "occurred_at": occurred_at,
            "campaign_id": target["campaign_id"],
            "contact_id": None if anonymous else target["contact_id"],
            "delivery_id": hit.item_id if hit.kind == "delivery" and not anonymous else None,
            "message_id": hit.item_id if hit.kind == "message" and not anonymous else None,
            "link_id": hit.link_id,
            "is_machine": bool(machine),
            "payload": payload,
            "hit_key": hit.key,
        }
        rows.append(row)
        if hit.event == "click":
            clicks.append(((hit.kind, hit.item_id), hit.link_id or 0, occurred_at, row))
    return rows, clicks


def _recent_clicks(rows: list[dict[str, Any]]) -> list[tuple]:
    """Recorded clicks of this batch's recipients close enough to be part of a burst."""
    clicked = [r for r in rows if r["type"] == EventType.CLICK and r["contact_id"] is not None]
    if not clicked:
        return []
    since = min(r["occurred_at"] for r in clicked) - SCAN_BURST_WINDOW
    found = db.session.execute(
        sa.select(
            Event.id, Event.delivery_id, Event.message_id, Event.link_id, Event.occurred_at
        ).where(
            Event.contact_id.in_(sorted({r["contact_id"] for r in clicked})),
            Event.type == EventType.CLICK,
            Event.occurred_at >= since,
        )
    )
    return [
        (("delivery", delivery_id) if delivery_id else ("message", message_id), link, at, id_)
        for id_, delivery_id, message_id, link, at in found
    ]


def _flag_scan_bursts(clicks: list[tuple], earlier: list[tuple]) -> list[int]:
    """Flag this batch's clicks that belong to bursts; returns the earlier events that do."""
    window = [(key, link_id or 0, at) for key, link_id, at, _ in clicks + earlier]
    late: list[int] = []
    for index in scan_bursts(window):
        if index >= len(clicks):
            late.append(earlier[index - len(clicks)][3])
            continue
        row = clicks[index][3]
        if not row["is_machine"]:
            row["is_machine"] = True
            row["payload"]["machine"] = "scan_burst"
    return late


def _targets(hits: list[Hit]) -> dict[tuple[Kind, int], dict[str, Any]]:
    """Project, campaign, contact, send time and project settings of each hit's item."""
    found: dict[tuple[Kind, int], dict[str, Any]] = {}
    delivery_ids = {h.item_id for h in hits if h.kind == "delivery"}
    message_ids = {h.item_id for h in hits if h.kind == "message"}
    queries: list[tuple[Kind, sa.Select]] = []
    if delivery_ids:
        queries.append(
            (
                "delivery",
                sa.select(
                    Delivery.id,
                    Delivery.project_id,
                    Delivery.campaign_id,
                    Delivery.contact_id,
                    Delivery.sent_at,
                    Project.settings,
                )
                .join(Project, Project.id == Delivery.project_id)
                .where(Delivery.id.in_(delivery_ids)),
            )
        )
    if message_ids:
        queries.append(
            (
                "message",
                sa.select(
                    Message.id,
                    Message.project_id,
                    sa.null().label("campaign_id"),
                    Message.contact_id,
                    Message.sent_at,
                    Project.settings,
                )
                .join(Project, Project.id == Message.project_id)
                .where(Message.id.in_(message_ids)),
            )
        )
    for kind, query in queries:
        for row in db.session.execute(query):
            found[(kind, row[0])] = {
                "project_id": row[1],
                "campaign_id": row[2],
                "contact_id": row[3],
                "sent_at": row[4],
                "settings": row[5],
            }
    return found


def drain_hits(client: redis.Redis | None = None, *, batch_size: int = 2000) -> int:
    """Move buffered hits into the database; returns how many events were recorded.

    Spool files of this host's dead processes (and this process's own) are shipped first.
    """
    flush_hits()
    client = client or get_redis()
    return event_buffer.drain(client, _record_raw, batch_size=batch_size)


def _record_raw(raw_items: list[bytes]) -> int:
    hits = []
    for raw in raw_items:
        try:
            hits.append(Hit.loads(raw))
        except (ValueError, TypeError):
            log.error("dropping a malformed buffered hit: %r", raw[:200])
    return record_hits(hits)
