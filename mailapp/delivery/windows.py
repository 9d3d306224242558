"""When mail may go out: send windows, local send times and quiet hours.

Next allowed instants come from APScheduler's CronTrigger, which knows time zones and
daylight-saving changes; every function takes `now` explicitly so tests freeze the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from mailapp.errors import ServiceError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hhmm(value: str) -> time:
    """'09:30' -> time(9, 30); ServiceError for anything else."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        raise ServiceError(f"{value!r} is not a time of day like 09:30") from None


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The named IANA zone; the default for an unknown or empty name."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def next_local_time(hhmm: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The next instant (from now on) at which the wall clock in tz shows hhmm."""
    at = parse_hhmm(hhmm)
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=tz)
    fire = trigger.get_next_fire_time(None, now)
    return fire.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True)
class SendWindow:
    """Allowed weekdays and hours in one zone; a window may run past midnight."""

    days: tuple[int, ...]  # 0 = Monday
    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def from_dict(cls, spec: dict, default_zone: str = "UTC") -> SendWindow:
        days = tuple(sorted({int(d) for d in spec.get("days", range(7))}))
        if not days or any(d < 0 or d > 6 for d in days):
            raise ServiceError("send window: days must be weekday numbers 0 (Monday) to 6")
        start, end = parse_hhmm(spec.get("start", "00:00")), parse_hhmm(spec.get("end", "23:59"))
        if start == end:
            raise ServiceError("send window: start and end must differ")
        return cls(days, start, end, zone(spec.get("timezone"), default_zone))

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        clock, day = local.time(), local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= clock < self.end
        # Past midnight: the evening part belongs to `day`, the morning part to the day before.
        return (day in self.days and clock >= self.start) or (
            (day - 1) % 7 in self.days and clock < self.end
        )

    def next_open(self, now: datetime) -> datetime:
        """`now` when inside the window, else the next time it opens."""
        if self.contains(now):
            return now
        trigger = CronTrigger(
            day_of_week=",".join(DAY_NAMES[d] for d in self.days),
            hour=self.start.hour,
            minute=self.start.minute,
            timezone=self.tz,
        )
        return trigger.get_next_fire_time(None, now).astimezone(ZoneInfo("UTC"))


def quiet_until(quiet: dict | None, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (in the contact's zone), or None."""
    if not quiet:
        return None
    window = SendWindow(tuple(range(7)), parse_hhmm(quiet["start"]), parse_hhmm(quiet["end"]), tz)
    if not window.contains(now):
        return None
    return next_local_time(quiet["end"], tz, now + timedelta(seconds=1))
