"""The transactional dashboard: per template and per tag, sent, delivered, bounce and
complaint rates, unique human opens and clicks, and how long messages waited from the API
call to the mail server's acceptance (median and p95), by hour and by day.

Read from MessageStat (hourly aggregates) only, like the campaign dashboards read DailyStat:
a page costs the same whatever the number of messages. The figures follow
`insights.metrics` (delivered = sent minus bounces; rates per delivered message).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.message_stats import LATENCY_BUCKETS_MS, LATENCY_OVERFLOW
from mailapp.feedback.report_stats import hour_of
from mailapp.insights.metrics import Metrics, metrics_from_counts
from mailapp.models import MessageStat, Template
from mailapp.models.base import utcnow

DIMENSIONS = ("template", "tag")
HOURS_SHOWN = 48


@dataclass
class Figures:
    """One template's or tag's figures over the period."""

    value: str
    label: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def metrics(self) -> Metrics:
        return metrics_from_counts(
            self.counts,
            unique_opens=self.counts.get("unique_open", 0),
            unique_clicks=self.counts.get("unique_click", 0),
        )

    @property
    def accepted(self) -> int:
        return self.counts.get("accepted", 0)

    @property
    def complaint_rate(self) -> float:
        return self.metrics.rate(self.metrics.complaints)

    def latency(self, quantile: float) -> int | None:
        """The upper bound (ms) of the latency bucket holding the quantile; None: no data,
        -1: beyond the last bucket."""
        return latency_quantile(self.counts, quantile)


def latency_quantile(counts: Counter[str], quantile: float) -> int | None:
    """A quantile read from latency bucket counts, as the bucket's upper bound in ms."""
    buckets = [(b, counts.get(f"latency_le_{b}", 0)) for b in LATENCY_BUCKETS_MS]
    buckets.append((-1, counts.get(LATENCY_OVERFLOW, 0)))
    total = sum(n for _, n in buckets)
    if not total:
        return None
    seen = 0
    for bound, n in buckets:
        seen += n
        if seen >= quantile * total:
            return bound
    return -1


def _since(days: int, now: datetime | None) -> datetime:
    return hour_of(now or utcnow()) - timedelta(days=days) + timedelta(hours=1)


def message_figures(
    project_id: int, dimension: str, *, days: int = 30, now: datetime | None = None
) -> tuple[Figures, list[Figures]]:
    """The project's totals, and one Figures per template or tag, busiest first."""
    since = _since(days, now)
    rows: dict[str, Figures] = {}
    total = Figures("", "All transactional mail")
    for dim, value, metric, count in db.session.execute(
        sa.select(
            MessageStat.dimension,
            MessageStat.value,
            MessageStat.metric,
            sa.func.sum(MessageStat.count),
        )
        .where(
            MessageStat.project_id == project_id,
            MessageStat.dimension.in_(["all", dimension]),
            MessageStat.hour >= since,
        )
        .group_by(MessageStat.dimension, MessageStat.value, MessageStat.metric)
    ):
        target = total if dim == "all" else rows.setdefault(value, Figures(value, value))
        target.counts[metric] += int(count)
    if dimension == "template":
        _label_templates(project_id, rows)
    ordered = sorted(rows.values(), key=lambda f: (-f.accepted, f.label))
    return total, ordered


def _label_templates(project_id: int, rows: dict[str, Figures]) -> None:
    ids = [int(v) for v in rows if v.isdigit()]
    names = dict(
        db.session.execute(
            sa.select(Template.id, Template.name).where(
                Template.project_id == project_id, Template.id.in_(ids)
            )
        ).all()
    )
    for value, figures in rows.items():
        if not value:
            figures.label = "Inline content (no template)"
        else:
            figures.label = names.get(int(value), f"Deleted template #{value}")


@dataclass
class Series:
    """Counts per hour (the last 48) and per day (in the viewer's zone) of one slice."""

    hours: list[tuple[datetime, Counter[str]]]
    days: list[tuple[date, Counter[str]]]

    def hourly(self, metric: str) -> list[int]:
        return [c.get(metric, 0) for _, c in self.hours]

    def daily(self, metric: str) -> list[int]:
        return [c.get(metric, 0) for _, c in self.days]


def message_series(
    project_id: int,
    dimension: str,
    value: str,
    *,
    days: int = 30,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> Series:
    """One template's, tag's or (dimension "all") the project's hourly and daily counts."""
    now = now or utcnow()
    since = _since(days, now)
    by_hour: dict[datetime, Counter[str]] = defaultdict(Counter)
    for hour, metric, count in db.session.execute(
        sa.select(MessageStat.hour, MessageStat.metric, MessageStat.count).where(
            MessageStat.project_id == project_id,
            MessageStat.dimension == dimension,
            MessageStat.value == value,
            MessageStat.hour >= since,
        )
    ):
        by_hour[hour][metric] += int(count)
    last = hour_of(now)
    hours = [last - timedelta(hours=n) for n in range(HOURS_SHOWN - 1, -1, -1)]
    by_day: dict[date, Counter[str]] = defaultdict(Counter)
    for hour, counts in by_hour.items():
        by_day[hour.astimezone(zone).date()].update(counts)
    today = now.astimezone(zone).date()
    day_list = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return Series(
        hours=[(h, by_hour.get(h, Counter())) for h in hours],
        days=[(d, by_day.get(d, Counter())) for d in day_list],
    )
