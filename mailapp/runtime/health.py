"""Liveness of the parts: database, Redis, and the worker and scheduler heartbeats."""

from __future__ import annotations

import time
from typing import Any

import redis
import sqlalchemy as sa

from mailapp.extensions import db

HEARTBEATS_KEY = "mailapp:heartbeats"


def beat(client: redis.Redis, process: str, instance: str) -> None:
    """Record that a worker or scheduler instance is alive now."""
    client.hset(HEARTBEATS_KEY, f"{process}:{instance}", time.time())


def check_health(client: redis.Redis, max_age: float) -> dict[str, Any]:
    """State of every part; 'down' names those that are not up."""
    parts: dict[str, Any] = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        parts["database"] = {"ok": True}
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        parts["database"] = {"ok": False, "error": type(exc).__name__}
    try:
        beats = {k.decode(): float(v) for k, v in client.hgetall(HEARTBEATS_KEY).items()}
        parts["redis"] = {"ok": True}
    except redis.RedisError as exc:
        beats = None
        parts["redis"] = {"ok": False, "error": type(exc).__name__}
    now = time.time()
    for process in ("worker", "scheduler"):
        if beats is None:
            parts[process] = {"ok": False, "error": "redis unavailable"}
            continue
        last = max((ts for k, ts in beats.items() if k.startswith(f"{process}:")), default=None)
        age = None if last is None else round(now - last, 1)
        parts[process] = {"ok": age is not None and age <= max_age, "last_heartbeat_age": age}
    down = [name for name, part in parts.items() if not part["ok"]]
    return {"status": "ok" if not down else "degraded", "down": down, **parts}


def prune_heartbeats(client: redis.Redis, older_than: float) -> int:
    """Drop heartbeat entries older than `older_than` seconds; returns how many."""
    cutoff = time.time() - older_than
    stale = [k for k, v in client.hgetall(HEARTBEATS_KEY).items() if float(v) < cutoff]
    return client.hdel(HEARTBEATS_KEY, *stale) if stale else 0
