"""Trigger scan cursors: how far each scan has read its durable table, one row per key.

A position is a string: an ISO time ("list_joined", "segments", "events", "date:<journey>")
or an id ("engagement"). It is written in the scan's own transaction, with the enrollments
it led to, so a crash repeats a window rather than skipping one.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import JourneyCursor
from mailapp.upserts import insert_for


def read_cursor(key: str) -> str | None:
    """The stored position of a scan, or None before its first run."""
    return db.session.scalar(sa.select(JourneyCursor.position).where(JourneyCursor.key == key))


def save_cursor(key: str, position: str, now: datetime) -> None:
    """Store a scan's position (no commit: it belongs to the scan's transaction)."""
    stmt = insert_for(JourneyCursor).values(key=key, position=position, updated_at=now)
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["key"], set_={"position": position, "updated_at": now}
        )
    )


def read_time(key: str, default: datetime) -> datetime:
    """A time position (ISO), or `default` before the first run."""
    position = read_cursor(key)
    return datetime.fromisoformat(position) if position else default


def save_time(key: str, when: datetime, now: datetime) -> None:
    save_cursor(key, when.isoformat(), now)
