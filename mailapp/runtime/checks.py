"""Start-up checks: a process that cannot reach its services says so in one line."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mailapp.config import redact_url
from mailapp.extensions import db


class ServiceUnavailable(Exception):
    """The database or Redis cannot be reached; the message names which and where."""


def wait_for_services(config: Mapping[str, Any], client: redis.Redis, wait: float = 0.0) -> None:
    """Return once the database and Redis answer; raise after `wait` seconds otherwise."""
    deadline = time.monotonic() + wait
    while True:
        try:
            _check_database(config["SQLALCHEMY_DATABASE_URI"])
            _check_redis(client, config["REDIS_URL"])
            return
        except ServiceUnavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def _check_database(uri: str) -> None:
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        where = make_url(uri).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ServiceUnavailable(f"DATABASE_URL: cannot connect to {where}: {reason}") from None


def _check_redis(client: redis.Redis, url: str) -> None:
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"REDIS_URL: cannot reach {redact_url(url)}: {exc}") from None
