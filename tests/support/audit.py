"""Asserting that a service call wrote exactly one audit entry, by whom and about what."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import AuditLog


@contextmanager
def one_audit_entry(action: str) -> Iterator[list[AuditLog]]:
    """Yields a list that holds the single new entry once the block has run."""
    last = db.session.scalar(sa.select(sa.func.max(AuditLog.id))) or 0
    found: list[AuditLog] = []
    yield found
    db.session.expire_all()
    entries = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id)
    ).all()
    assert [e.action for e in entries] == [action]
    found.extend(entries)
