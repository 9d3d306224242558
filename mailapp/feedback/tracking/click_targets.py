"""Where a click may lead, looked up fast: the link's stored URL and the message's owner.

Only a stored Link of the clicked message's own campaign (own project, for transactional
mail) with a plain absolute http(s) URL is ever a redirect target: a token names a link,
never a URL, so no token can send anyone elsewhere.

The click path is the hottest read of the system. Links are frozen at launch and a
delivery never changes campaign, so every lookup is cached per process (bounded, with a
TTL); a miss costs one autocommit round trip (no BEGIN/ROLLBACK around a single read).
A campaign's deliveries are created by one INSERT ... SELECT, so their ids form a few runs:
the first click of a campaign loads those runs once, and every later first click of any of
its recipients is answered from memory instead of one query per recipient.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from werkzeug.urls import iri_to_uri

from mailapp.content.utm import utm_url
from mailapp.extensions import db
from mailapp.models import Campaign, Delivery, Link, Message
from mailapp.tokens import BadToken
from mailapp.urls import Kind, read_click

CACHE_SECONDS = 300.0
CACHE_SIZE = 50_000
KINDS: tuple[Kind, ...] = ("delivery", "message")
_HOST_RE = re.compile(r"^[\w.-]+$|^\[[0-9a-f:.]+\]$")


class TtlCache:
    """A small LRU whose entries also expire; one per app and process."""

    def __init__(self, size: int = CACHE_SIZE, ttl: float = CACHE_SECONDS) -> None:
        self.size, self.ttl = size, ttl
        self._data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any:
        found = self._data.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        self._data.move_to_end(key)
        return found[1]

    def put(self, key: Any, value: Any) -> None:
        self._data[key] = (time.monotonic() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


@dataclass(frozen=True)
class LinkTarget:
    project_id: int
    campaign_id: int
    url: str
    utm: dict
    campaign_name: str


@dataclass(frozen=True)
class IdRuns:
    """Sorted, disjoint [start, end] runs of ids: membership by bisection."""

    starts: list[int]
    ends: list[int]

    def __contains__(self, item: int) -> bool:
        index = bisect_right(self.starts, item) - 1
        return index >= 0 and item <= self.ends[index]


def _cache(name: str) -> TtlCache:
    caches = current_app.extensions.setdefault("click_targets", {})
    return caches.setdefault(name, TtlCache())


def _read_all(statement: sa.Select) -> list[sa.Row]:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.execute(statement).all()


def _read_one(statement: sa.Select) -> sa.Row | None:
    rows = _read_all(statement)
    return rows[0] if rows else None


def link_target(link_id: int) -> LinkTarget | None:
    """The stored link and its campaign's UTM rule, or None when there is no such link."""

    def load() -> LinkTarget | None:
        row = _read_one(
            sa.select(Link.project_id, Link.campaign_id, Link.url, Campaign.utm, Campaign.name)
            .join(Campaign, Campaign.id == Link.campaign_id)
            .where(Link.id == link_id)
        )
        return None if row is None else LinkTarget(row[0], row[1], row[2], row[3] or {}, row[4])

    return cached("links", link_id, load)


def owner_of(kind: str, item_id: int) -> int | None:
    """The campaign of a delivery, or the project of a transactional message."""
    column, model = (
        (Delivery.campaign_id, Delivery) if kind == "delivery" else (Message.project_id, Message)
    )

    def load() -> int | None:
        row = _read_one(sa.select(column).where(model.id == item_id))
        return None if row is None else row[0]

    return cached(kind, item_id, load)


def cached(name: str, key: Any, load: Callable[[], Any]) -> Any:
    """`load()` once per key and process (bounded, with a TTL); a None answer is not kept."""
    cache = _cache(name)
    value = cache.get(key)
    if value is None:
        value = load()
        if value is not None:
            cache.put(key, value)
    return value


def delivery_in_campaign(delivery_id: int, campaign_id: int) -> bool:
    """Whether the delivery is the campaign's: from memory after the campaign's first click."""
    if delivery_id in cached("delivery_runs", campaign_id, lambda: _delivery_runs(campaign_id)):
        return True
    # Not one of the ids known when the runs were read (or not the campaign's): ask for it.
    return owner_of("delivery", delivery_id) == campaign_id


def _delivery_runs(campaign_id: int) -> IdRuns:
    numbered = (
        sa.select(
            Delivery.id,
            (Delivery.id - sa.func.row_number().over(order_by=Delivery.id)).label("run"),
        )
        .where(Delivery.campaign_id == campaign_id)
        .subquery()
    )
    first, last = sa.func.min(numbered.c.id), sa.func.max(numbered.c.id)
    rows = _read_all(sa.select(first, last).group_by(numbered.c.run).order_by(first))
    return IdRuns([row[0] for row in rows], [row[1] for row in rows])


def resolve_click(secret: str, token: str) -> tuple[Kind, int, int, str] | None:
    """(kind, item id, link id, redirect URL) for a genuine click token, else None.

    The link must be a stored Link of the delivery's own campaign (of the message's own
    project for transactional mail) and its URL a plain absolute http(s) URL: the token
    names a link, never a target, so no token can redirect anywhere else. All of it comes
    from per-process caches after the first click of a link and of a campaign (of each
    message, for transactional mail).
    """
    for kind in KINDS:
        try:
            item_id, link_id = read_click(secret, token, kind)
        except BadToken:
            continue
        link = link_target(link_id)
        if link is None:
            return None
        if kind == "delivery":
            if not delivery_in_campaign(item_id, link.campaign_id):
                return None
        elif owner_of(kind, item_id) != link.project_id:
            return None
        url = cached("locations", (kind, link_id), partial(_location, kind, link_id, link))
        return (kind, item_id, link_id, url) if url else None
    return None


def _location(kind: Kind, link_id: int, link: LinkTarget) -> str:
    """The Location of a link: its URL, with the campaign's UTM rule ("" when unsafe)."""
    if not is_safe_url(link.url):
        return ""
    if kind == "message":
        return iri_to_uri(link.url)
    return iri_to_uri(utm_url(link.url, link.utm, link.campaign_id, link.campaign_name, link_id))


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
