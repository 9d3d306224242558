"""How the back office shows values: times in the viewer's zone, counts with separators.

Templates use `{{ when|when }}` for a moment and `{{ n|count }}` for a number, so every page
formats them the same way. The viewer's zone is their own (My account) when they chose one,
else the current project's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from flask import Flask, has_request_context
from flask_login import current_user

from mailapp.admin.context import current_project_or_none


def viewer_zone() -> ZoneInfo:
    """The zone the person looking at the page reads times in."""
    own = getattr(current_user, "timezone", None) if has_request_context() else None
    if own:
        return ZoneInfo(own)
    project = current_project_or_none()
    return ZoneInfo(project.timezone if project is not None and project.timezone else "UTC")


def format_when(value: datetime | None, fmt: str = "%-d %b %Y, %H:%M") -> str:
    """A moment in the viewer's zone, to the minute, with the zone's abbreviation."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(viewer_zone())
    return f"{local.strftime(fmt)} {local.tzname()}"


def parse_mail_date(value: str | None) -> datetime | None:
    """An RFC 5322 Date header as a moment (for `when`); None when it does not parse."""
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def format_count(value: int | float | None) -> str:
    """12430 -> "12,430"; None -> "—"."""
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def init_app(app: Flask) -> None:
    app.add_template_filter(format_when, "when")
    app.add_template_filter(format_count, "count")
    app.add_template_filter(parse_mail_date, "mail_date")
