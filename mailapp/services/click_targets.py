"""Where a click may lead, looked up fast: the link's stored URL and the message's owner.

The click path is the hottest read of the system. Links are frozen at launch and a
delivery never changes campaign, so both lookups are cached per process (bounded, with a
TTL); a miss costs one autocommit round trip (no BEGIN/ROLLBACK around a single read).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from mailapp.extensions import db
from mailapp.models import Campaign, Delivery, Link, Message

CACHE_SECONDS = 300.0
CACHE_SIZE = 50_000


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


def _cache(name: str) -> TtlCache:
    caches = current_app.extensions.setdefault("click_targets", {})
    return caches.setdefault(name, TtlCache())


def _read_one(statement: sa.Select) -> sa.Row | None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.execute(statement).first()


def link_target(link_id: int) -> LinkTarget | None:
    """The stored link and its campaign's UTM rule, or None when there is no such link."""
    cache = _cache("links")
    target = cache.get(link_id)
    if target is None:
        row = _read_one(
            sa.select(Link.project_id, Link.campaign_id, Link.url, Campaign.utm, Campaign.name)
            .join(Campaign, Campaign.id == Link.campaign_id)
            .where(Link.id == link_id)
        )
        if row is None:
            return None
        target = LinkTarget(row[0], row[1], row[2], row[3] or {}, row[4])
        cache.put(link_id, target)
    return target


def owner_of(kind: str, item_id: int) -> int | None:
    """The campaign of a delivery, or the project of a transactional message."""
    cache = _cache(kind)
    owner = cache.get(item_id)
    if owner is None:
        column, model = (
            (Delivery.campaign_id, Delivery)
            if kind == "delivery"
            else (Message.project_id, Message)
        )
        row = _read_one(sa.select(column).where(model.id == item_id))
        if row is None:
            return None
        owner = row[0]
        cache.put(item_id, owner)
    return owner
