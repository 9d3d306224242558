"""Schedule helpers of the campaign tests: a send time that stays in the future and inside a
weekday window, and a moment written as the back office writes it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def next_tuesday_morning() -> datetime:
    """A Tuesday about two months ahead, 09:30 in Berlin: inside a Mon-Fri window, no DST."""
    day = datetime.now(BERLIN).date() + timedelta(days=60)
    day += timedelta(days=(1 - day.weekday()) % 7)
    return datetime.combine(day, time(9, 30), tzinfo=BERLIN)


def shown(at: datetime) -> str:
    """A moment as the back office writes it (the `when` filter) in Berlin."""
    return at.astimezone(BERLIN).strftime("%-d %b %Y, %H:%M %Z")
