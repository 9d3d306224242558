"""Date triggers: a contact's date attribute (birthday, renewal) at a local time in their zone.

Each journey's cursor ("date:<journey id>") is when its scan last ran. A time zone is due
when the journey's local `time` on some day fell after that cursor: that day is the zone's
local date, and the contacts living there (by their own zone, else the project's) whose
attribute plus `offset_days` is that date start the journey. So each zone is read once a
day, at the first tick after its local time, in one statement per journey, and an
enrollment of the last day and a half answers the same birthday read twice.
"""

from __future__ import annotations

import calendar
import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa

from mailapp.audience.segments.rules import ATTRIBUTE_KEY
from mailapp.extensions import db
from mailapp.journeys.candidates import Armed, Candidate
from mailapp.journeys.cursors import read_time, save_time
from mailapp.models import Contact, ContactStatus, Project

log = logging.getLogger(__name__)
# A date read again within this long was answered by the enrollment it made.
ANSWERED_FOR = timedelta(hours=36)


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_dates(zones: set[str], at: time, start: datetime, now: datetime) -> dict[date, set[str]]:
    """The zones whose local `at` fell in (start, now], grouped by that local date."""
    due: dict[date, set[str]] = defaultdict(set)
    for name in zones:
        zone = _zone(name)
        local = now.astimezone(zone)
        day = local.date() if local.time() >= at else local.date() - timedelta(days=1)
        moment = datetime.combine(day, at, tzinfo=zone)
        if start < moment <= now:
            due[day].add(name)
    return due


def _date_matches(text: sa.ColumnElement, day: date, offset: int, yearly: bool) -> sa.ColumnElement:
    """The attribute's date plus `offset` days is `day` (yearly: same month and day)."""
    target = day - timedelta(days=offset)
    if not yearly:
        return sa.func.substr(text, 1, 10) == target.isoformat()
    month_days = [target.strftime("%m-%d")]
    if target.month == 2 and target.day == 28 and not calendar.isleap(target.year):
        month_days.append("02-29")  # a leap-day birthday is kept on the 28th in other years
    return sa.func.substr(text, 6, 5).in_(month_days)


def _parse_time(value: object) -> time | None:
    try:
        return time.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def scan_dates(journeys: list[Armed], now: datetime) -> list[Candidate]:
    """Contacts whose date comes up today in their zone, once the local time has passed."""
    selects = []
    for journey in journeys:
        trigger = journey.trigger
        at, attribute = _parse_time(trigger.get("time") or "09:00"), trigger.get("attribute")
        if at is None or not isinstance(attribute, str) or not ATTRIBUTE_KEY.match(attribute):
            log.warning("journey %s: its date trigger cannot be read", journey.journey_id)
            continue
        key = f"date:{journey.journey_id}"
        start = max(read_time(key, journey.published_at), now - timedelta(days=1))
        save_time(key, now, now)
        project_zone = db.session.scalar(
            sa.select(Project.timezone).where(Project.id == journey.project_id)
        )
        project_zone = project_zone if project_zone in known_zones() else "UTC"
        due = due_dates(set(known_zones()), at, start, now)
        if not due:
            continue
        text = Contact.attributes[attribute].as_string()
        offset, yearly = int(trigger.get("offset_days") or 0), bool(trigger.get("yearly", True))
        conditions = []
        for day, zones in due.items():
            lives_there = [Contact.timezone.in_(sorted(zones))]
            if project_zone in zones:
                # No zone, or one we cannot read: the project's.
                lives_there.append(sa.func.coalesce(Contact.timezone, "").not_in(known_zones()))
            conditions.append(
                sa.and_(sa.or_(*lives_there), _date_matches(text, day, offset, yearly))
            )
        selects.append(
            sa.select(Contact.id, sa.literal(journey.journey_id).label("journey_id")).where(
                Contact.project_id == journey.project_id,
                Contact.status == ContactStatus.ACTIVE,
                sa.or_(*conditions),
            )
        )
    if not selects:
        return []
    rows = db.session.execute(selects[0] if len(selects) == 1 else sa.union_all(*selects))
    return [Candidate(j, c, now - ANSWERED_FOR, {}) for c, j in rows]
