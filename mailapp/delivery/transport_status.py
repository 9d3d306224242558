"""A transport's health as pages and answers show it: numbers over the last 15 minutes and
one line of plain words ("Healthy: 1,204 sent in the last 15 min")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis

from mailapp.delivery.sender_transports import host_of, kind_of
from mailapp.delivery.transport_choice import shared_health
from mailapp.models import Project, Sender, SenderTransport


def transport_status(transport: SenderTransport, timezone: str = "UTC") -> dict[str, Any]:
    """The transport's health over the last 15 minutes, in numbers and in plain words."""
    if not transport.enabled:
        return {"state": "off", "summary": "Switched off: no mail goes here"}
    try:
        health = shared_health().read(transport.id)
    except redis.RedisError:
        return {"state": "unknown", "summary": "Health unknown: Redis cannot be reached"}
    status: dict[str, Any] = {
        "sent_15min": health.sent,
        "errors_15min": health.errors,
        "errors_in_a_row": health.consecutive,
        "last_error": health.last_error,
        "last_error_at": _iso(health.last_error_at),
        "failing_since": _iso(health.failing_since),
        "paused_seconds": round(health.paused_for),
    }
    if health.paused_for > 0:
        status["state"] = "paused"
        status["summary"] = (
            f"Paused for {_duration(health.paused_for)} after {health.consecutive} errors in a "
            "row — mail goes to the next transport"
        )
    elif health.consecutive:
        status["state"] = "failing"
        since = _clock(health.failing_since or health.last_error_at, timezone)
        status["summary"] = (
            f"Failing since {since}: {health.last_error or 'no answer'} — mail goes to the "
            "next transport"
        )
    else:
        status["state"] = "healthy"
        errors = f", {health.errors:,} errors" if health.errors else ""
        status["summary"] = f"Healthy: {health.sent:,} sent in the last 15 min{errors}"
    return status


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


def _clock(stamp: float | None, timezone: str) -> str:
    if stamp is None:
        return "just now"
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(stamp, zone).strftime("%H:%M")


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{round(seconds / 60)} min"
    return f"{max(round(seconds), 1)} s"


def transport_rows(project: Project, sender: Sender) -> list[dict[str, Any]]:
    """The sender's transports as pages show them: no URL, the health in words."""
    return [
        {
            "id": t.id,
            "name": t.name,
            "kind": kind_of(t.url),
            "host": host_of(t.url),
            "weight": t.weight,
            "enabled": t.enabled,
            "health": transport_status(t, project.timezone),
        }
        for t in sender.transports
    ]
