"""Dialect helpers for set-based writes that must read the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
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


def in_values(column: Any, values: Iterable[Any], item_type: Any = None) -> sa.ColumnElement:
    """`column IN (...)`; one array parameter on PostgreSQL instead of thousands of binds."""
    values = list(values)
    if dialect() == "postgresql":
        array = postgresql.ARRAY(item_type or column.type)
        return column == sa.any_(sa.cast(sa.bindparam(None, values, type_=array), array))
    return column.in_(values)


def unnest_rows(columns: dict[str, tuple[Any, list[Any]]]) -> Any:
    """PostgreSQL: the given column arrays as a derived table `u`, one row per position."""
    arrays = [
        sa.cast(
            sa.bindparam(f"u_{name}", values, type_=postgresql.ARRAY(kind)), postgresql.ARRAY(kind)
        )
        for name, (kind, values) in columns.items()
    ]
    return (
        sa.func.unnest(*arrays)
        .table_valued(*[sa.column(name, kind) for name, (kind, _) in columns.items()])
        .render_derived(name="u")
    )
