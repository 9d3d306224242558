"""Opens and clicks: reading tracking tokens, safe redirects, and turning hits into events.

The request path does as little as it can: it checks the token, classifies the agent and
appends a compact hit to the Redis buffer (`event_buffer`); it never writes the database
unless Redis is down. The drain resolves hits in bulk (one query per batch), applies the
project's privacy mode and the machine rules, and hands rows to `events.record_events`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

import redis
import sqlalchemy as sa
from flask import current_app

from mailapp.extensions import db, get_redis
from mailapp.models import Delivery, EventType, Message, Project
from mailapp.services import event_buffer
from mailapp.services.agents import classify_agent, is_prefetch, scan_bursts
from mailapp.services.click_targets import link_target, owner_of
from mailapp.services.events import record_events
from mailapp.services.tokens import BadToken
from mailapp.services.urls import Kind, read_click, read_single
from mailapp.services.utm import utm_url

log = logging.getLogger(__name__)

# The smallest valid GIF89a: one transparent pixel (43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
TRACKING_MODES = ("full", "anonymous", "off")
KINDS: tuple[Kind, ...] = ("delivery", "message")
_HOST_RE = re.compile(r"^[\w.-]+$|^\[[0-9a-f:.]+\]$")


class Hit(NamedTuple):
    """One open or click as the request saw it; a JSON array in the buffer."""

    event: Literal["open", "click"]
    kind: Kind
    item_id: int
    link_id: int | None
    at: float  # epoch seconds
    agent: str | None  # machine class from the request, None for a person
    ua: str | None
    ip: str | None

    def dumps(self) -> str:
        return json.dumps(self, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | bytes) -> Hit:
        return cls(*json.loads(raw))


def make_hit(
    event: Literal["open", "click"],
    kind: Kind,
    item_id: int,
    link_id: int | None,
    user_agent: str | None,
    ip: str | None,
) -> Hit:
    return Hit(
        event=event,
        kind=kind,
        item_id=item_id,
        link_id=link_id,
        at=time.time(),
        agent=classify_agent(user_agent, ip),
        ua=(user_agent or "")[:256] or None,
        ip=ip,
    )


def read_open_token(secret: str, token: str) -> tuple[Kind, int] | None:
    """The delivery or message an open token names, or None when it is not ours."""
    for kind in KINDS:
        try:
            return kind, read_single(secret, "open", token, kind)
        except BadToken:
            continue
    return None


def resolve_click(secret: str, token: str) -> tuple[Kind, int, int, str] | None:
    """(kind, item id, link id, redirect URL) for a genuine click token, else None.

    The link must be a stored Link of the delivery's own campaign (of the message's own
    project for transactional mail) and its URL a plain absolute http(s) URL: the token
    names a link, never a target, so no token can redirect anywhere else.
    """
    for kind in KINDS:
        try:
            item_id, link_id = read_click(secret, token, kind)
        except BadToken:
            continue
        link = link_target(link_id)
        if link is None or not is_safe_url(link.url):
            return None
        owner = owner_of(kind, item_id)
        if kind == "delivery":
            if owner != link.campaign_id:
                return None
            url = utm_url(link.url, link.utm, link.campaign_id, link.campaign_name, link_id)
        else:
            if owner != link.project_id:
                return None
            url = link.url
        return kind, item_id, link_id, url
    return None


def is_safe_url(url: str) -> bool:
    """Only plain absolute http(s) URLs with a host and no credentials leave through /t/c/."""
    if not url or any(ord(ch) < 33 or ch == "\\" for ch in url):
        return False
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and url.lower().startswith(f"{parts.scheme.lower()}://")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and port_ok
        and bool(_HOST_RE.match(parts.hostname or ""))
    )


def record_hit(hit: Hit) -> None:
    """Buffer a hit in Redis; write it straight to the database when Redis is down."""
    try:
        event_buffer.push(get_redis(), hit.dumps())
    except redis.RedisError as exc:
        log.warning("event buffer unavailable (%s); writing the hit directly", exc)
        record_hits([hit])


def record_hits(hits: list[Hit]) -> int:
    """Resolve hits in bulk and record the events they make; returns how many were recorded."""
    rows = hits_to_rows(hits)
    record_events(rows)
    return len(rows)


def hits_to_rows(hits: list[Hit]) -> list[dict[str, Any]]:
    """Event rows for hits: privacy mode applied, machine hits flagged, strays dropped."""
    targets = _targets(hits)
    rows: list[dict[str, Any]] = []
    clicks: list[tuple[object, int, datetime]] = []
    for hit in hits:
        target = targets.get((hit.kind, hit.item_id))
        if target is None:
            continue  # the delivery was deleted since, or never existed in this database
        mode = (target["settings"] or {}).get("tracking", "full")
        if mode not in TRACKING_MODES or mode == "off":
            continue
        occurred_at = datetime.fromtimestamp(hit.at, UTC)
        machine = hit.agent or ("prefetch" if is_prefetch(occurred_at, target["sent_at"]) else None)
        anonymous = mode == "anonymous"
        payload = {} if anonymous else {"ua": hit.ua, "ip": hit.ip}
        if machine:
            payload["machine"] = machine
        rows.append(
            {
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
            }
        )
        if hit.event == "click":
            clicks.append(((hit.kind, hit.item_id), hit.link_id or 0, occurred_at))
    _flag_scan_bursts([r for r in rows if r["type"] == EventType.CLICK], clicks)
    return rows


def _flag_scan_bursts(click_rows: list[dict[str, Any]], clicks: list) -> None:
    for index in scan_bursts(clicks):
        row = click_rows[index]
        if not row["is_machine"]:
            row["is_machine"] = True
            row["payload"]["machine"] = "scan_burst"


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
    """Move buffered hits into the database; returns how many events were recorded."""
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


def tracking_secret() -> str:
    return current_app.config["SECRET_KEY"]
