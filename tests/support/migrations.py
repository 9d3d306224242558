"""A database of each kind migrated only up to an older revision, for migration tests: write
rows the way the schema stood then, upgrade, and look at what the migration made of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from mailapp import create_app
from tests.conftest import app_config


@contextmanager
def database_at(
    request: pytest.FixtureRequest, kind: str, revision: str, tmp_path: Path, redis_url: str
) -> Iterator[sa.Engine]:
    """An app context on an empty `kind` database ("sqlite" or "postgresql") upgraded to
    `revision`; yields its engine and drops the database afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        drop = None
    else:
        server = request.getfixturevalue("postgres_server_url")
        name = f"m_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        drop = (server, name)
    app = create_app(app_config(url, redis_url, tmp_path / "instance"))
    try:
        with app.app_context():
            upgrade(revision=revision)
            from mailapp.extensions import db

            yield db.engine
            db.session.remove()
            db.engine.dispose()
    finally:
        if drop:
            with psycopg.connect(drop[0], autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {drop[1]} WITH (FORCE)")


def insert(conn: sa.Connection, table: sa.Table, **values: object) -> int:
    """Insert one row into a reflected table (an older schema's) and return its id."""
    return conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()
