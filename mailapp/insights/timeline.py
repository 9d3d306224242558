"""A campaign's timeline: per hour for the first 48 hours after launch, per day after.

Hours come from HourlyStat (kept only for those 48 hours), days from DailyStat; both are
aggregates, so a timeline costs the same for ten recipients or a million.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.report_stats import HOURLY_WINDOW, hour_of
from mailapp.insights.metrics import stat_key
from mailapp.models import DailyStat, HourlyStat
from mailapp.models.base import utcnow

Points = list[tuple[datetime, dict[str, int]]]


@dataclass
class Timeline:
    hours: Points  # launch hour .. 48 hours later (or now), every hour, zeros filled
    days: list[tuple[date, dict[str, int]]]  # first .. last day with activity, zeros filled

    @property
    def hourly_only(self) -> bool:
        """True while the days add nothing the hours do not show (two days or fewer)."""
        return len(self.days) <= 2


def campaign_timeline(
    project_id: int, campaign_id: int, launched_at: datetime | None, *, now: datetime | None = None
) -> Timeline:
    """The hourly and daily series of one campaign ("open", "machine_open", ...)."""
    by_day: dict[date, Counter[str]] = {}
    for day, type_, is_machine, total in db.session.execute(
        sa.select(DailyStat.day, DailyStat.type, DailyStat.is_machine, DailyStat.count).where(
            DailyStat.project_id == project_id, DailyStat.campaign_id == campaign_id
        )
    ):
        by_day.setdefault(day, Counter())[stat_key(type_, is_machine)] += total
    return Timeline(hours=_hours(project_id, campaign_id, launched_at, now), days=_days(by_day))


def _hours(
    project_id: int, campaign_id: int, launched_at: datetime | None, now: datetime | None
) -> Points:
    if launched_at is None:
        return []
    first = hour_of(launched_at)
    last = hour_of(min(now or utcnow(), launched_at + HOURLY_WINDOW - timedelta(seconds=1)))
    by_hour: dict[datetime, Counter[str]] = {}
    for hour, type_, is_machine, total in db.session.execute(
        sa.select(HourlyStat.hour, HourlyStat.type, HourlyStat.is_machine, HourlyStat.count).where(
            HourlyStat.project_id == project_id, HourlyStat.campaign_id == campaign_id
        )
    ):
        by_hour.setdefault(hour, Counter())[stat_key(type_, is_machine)] += total
        last = max(last, hour)
    count = int((last - first) / timedelta(hours=1)) + 1
    return [
        (first + timedelta(hours=n), dict(by_hour.get(first + timedelta(hours=n), {})))
        for n in range(max(count, 1))
    ]


def _days(by_day: dict[date, Counter[str]]) -> list[tuple[date, dict[str, int]]]:
    if not by_day:
        return []
    first, last = min(by_day), max(by_day)
    return [
        (first + timedelta(days=n), dict(by_day.get(first + timedelta(days=n), {})))
        for n in range((last - first).days + 1)
    ]
