"""Dialect helpers for set-based writes that must read the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mailapp.extensions import db


def dialect() -> str:
    return db.session.get_bind().dialect.name


def insert_for(model: Any) -> Any:
    """An INSERT supporting ON CONFLICT on the session's database."""
    module = postgresql if dialect() == "postgresql" else sqlite
    # The Core table, not the ORM entity: ORM-enabled INSERT ... SELECT reports no rowcount.
    return module.insert(getattr(model, "__table__", model))


def json_merge(base: sa.ColumnElement, overlay: sa.ColumnElement) -> sa.ColumnElement:
    """`base` with the keys of `overlay` set over it (shallow, like dict.update)."""
    if dialect() == "postgresql":
        return base.op("||")(overlay)
    return sa.func.json_patch(base, overlay)
