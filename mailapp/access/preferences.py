"""A back-office user's own display preferences (their time zone), audited like any change."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from mailapp.access.audit import Actor, record_audit
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import User


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted (the set is read from disk once per process)."""
    return tuple(sorted(available_timezones()))


def set_user_timezone(user: User, zone: str | None, *, actor: Actor) -> None:
    """Show this user times in `zone`; None or "" means "in the project's zone"."""
    zone = (zone or "").strip() or None
    if zone is not None and zone not in zone_names():
        raise ServiceError(f"timezone: {zone!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    if zone == user.timezone:
        return
    record_audit(
        actor,
        "user.timezone_change",
        project_id=None,
        obj=user,
        context={"from": user.timezone, "to": zone},
    )
    user.timezone = zone
    db.session.commit()
