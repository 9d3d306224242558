"""Trends per segment: what the campaigns sent to a segment did, per day, from aggregates.

"Per segment" means *the campaigns whose audience named the segment when they were
launched* (the audience frozen in the campaign's snapshot), not the segment's current
members: a segment is a rule evaluated at use, so its membership then and now differ, and
contacts who joined since were never mailed as part of it. A campaign sent to lists as well
as the segment reaches the lists' members too; such campaigns are marked `mixed` and count
whole, since deliveries do not record which part of the audience brought each recipient.

Sent, delivered, opens and clicks follow the one definition in `insights.metrics`. The
figures are sums of `DailyStat` rows (per day, campaign, type, human/machine) over the
segment's campaigns: the same aggregate the project dashboard reads, one row per
(day, campaign, type, human/machine) whatever the number of events, so the cost does not
grow with event volume.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.insights.metrics import Metrics, delivered_series, metrics_from_counts, stat_key
from mailapp.models import Campaign, DailyStat, EventType, Segment
from mailapp.models.base import utcnow

MAX_COMPARED = 6
# The event types a segment's trends show, in the order of the page and the CSV.
METRICS = (
    EventType.SENT,
    "delivered",  # computed: sent minus bounces (insights.metrics)
    EventType.OPEN,
    EventType.CLICK,
    EventType.BOUNCE_HARD,
    EventType.BOUNCE_SOFT,
    EventType.COMPLAINT,
    EventType.UNSUBSCRIBE,
)


@dataclass(frozen=True)
class SegmentCampaign:
    id: int
    name: str
    mixed: bool  # the audience named lists too


@dataclass
class SegmentTrend:
    segment_id: int
    name: str
    campaigns: list[SegmentCampaign]
    # "sent", "open", ..., "machine_open", "machine_click" -> one value per day
    series: dict[str, list[int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def daily(self, key: str, days: int) -> list[int]:
        if key == "delivered":
            return delivered_series(self.series, days)
        return self.series.get(key, [0] * days)

    @property
    def metrics(self) -> Metrics:
        """The totals under the one definition of sent, delivered, opens and clicks."""
        return metrics_from_counts(self.totals)

    @property
    def delivered(self) -> int:
        return self.metrics.delivered

    def rate(self, key: str) -> float:
        """A count per delivered message (bounces per sent message)."""
        metrics = self.metrics
        if key in (EventType.BOUNCE_HARD, EventType.BOUNCE_SOFT):
            return self.totals.get(key, 0) / metrics.sent if metrics.sent else 0.0
        return metrics.rate(self.totals.get(key, 0))


@dataclass
class SegmentTrends:
    days: list[date]
    segments: list[SegmentTrend]


def campaigns_by_segment(project_id: int) -> dict[int, list[SegmentCampaign]]:
    """The launched campaigns of a project, by the segment their frozen audience named."""
    found: dict[int, list[SegmentCampaign]] = {}
    rows = db.session.execute(
        sa.select(Campaign.id, Campaign.name, Campaign.snapshot["audience"])
        .where(Campaign.project_id == project_id, Campaign.launched_at.is_not(None))
        .order_by(Campaign.launched_at.desc(), Campaign.id.desc())
    )
    for campaign_id, name, audience in rows:
        audience = audience if isinstance(audience, dict) else {}
        segment_id = _segment_id(audience.get("segment_id"))
        if segment_id is not None:
            found.setdefault(segment_id, []).append(
                SegmentCampaign(campaign_id, name, mixed=bool(audience.get("lists")))
            )
    return found


def _segment_id(value: object) -> int | None:
    """The segment id an audience names (JSON from the API may carry it as a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def segment_choices(project_id: int) -> list[tuple[int, str, int]]:
    """Every segment of the project with the number of campaigns sent to it, busiest first."""
    counts = {s: len(c) for s, c in campaigns_by_segment(project_id).items()}
    rows = db.session.execute(
        sa.select(Segment.id, Segment.name).where(Segment.project_id == project_id)
    ).all()
    return sorted(
        ((sid, name, counts.get(sid, 0)) for sid, name in rows),
        key=lambda row: (-row[2], row[1].lower(), row[0]),
    )


def segment_trends(
    project_id: int,
    segment_ids: list[int],
    *,
    days: int = 30,
    today: date | None = None,
    series: Collection[str] | None = None,
) -> SegmentTrends:
    """Totals and per-day counts for the campaigns sent to each of the segments.

    `series` names the per-day series wanted ("open", "machine_open", ...; None for all):
    a comparison needs one, so only its rows are read. Segments of other projects are
    ignored; at most MAX_COMPARED segments are compared.
    """
    today = today or utcnow().date()
    start = today - timedelta(days=days - 1)
    calendar = [start + timedelta(days=n) for n in range(days)]
    names = dict(
        db.session.execute(
            sa.select(Segment.id, Segment.name).where(
                Segment.project_id == project_id, Segment.id.in_(segment_ids)
            )
        ).all()
    )
    wanted = [sid for sid in dict.fromkeys(segment_ids) if sid in names][:MAX_COMPARED]
    by_segment = campaigns_by_segment(project_id)
    trends = [SegmentTrend(sid, names[sid], by_segment.get(sid, [])) for sid in wanted]
    owner = {c.id: trend for trend in trends for c in trend.campaigns}
    if not owner:
        return SegmentTrends(days=calendar, segments=trends)
    scope = (
        DailyStat.project_id == project_id,
        DailyStat.campaign_id.in_(owner),
        DailyStat.day.between(start, today),
    )
    # Sums per campaign, then per segment here: each campaign belongs to one segment, and
    # grouping by campaign keeps the rows few (campaigns x types) without a mapping table.
    totals: dict[int, Counter[str]] = {t.segment_id: Counter() for t in trends}
    for campaign_id, type_, is_machine, total in db.session.execute(
        sa.select(
            DailyStat.campaign_id,
            DailyStat.type,
            DailyStat.is_machine,
            sa.func.sum(DailyStat.count),
        )
        .where(*scope)
        .group_by(DailyStat.campaign_id, DailyStat.type, DailyStat.is_machine)
    ):
        totals[owner[campaign_id].segment_id][stat_key(type_, is_machine)] += int(total)
    for trend in trends:
        trend.totals = dict(totals[trend.segment_id])
    daily = sa.select(
        DailyStat.day,
        DailyStat.campaign_id,
        DailyStat.type,
        DailyStat.is_machine,
        sa.func.sum(DailyStat.count),
    ).where(*scope)
    if series is not None:
        # Delivered is computed from sent and bounces: read those for it.
        if "delivered" in series:
            series = [k for k in series if k != "delivered"] + [
                "sent",
                "bounce_hard",
                "bounce_soft",
            ]
        wanted_series = [
            sa.and_(
                DailyStat.type == EventType(key.removeprefix("machine_")),
                DailyStat.is_machine.is_(key.startswith("machine_")),
            )
            for key in series
        ]
        daily = daily.where(sa.or_(*wanted_series) if wanted_series else sa.false())
    index = {day: n for n, day in enumerate(calendar)}
    for day, campaign_id, type_, is_machine, total in db.session.execute(
        daily.group_by(DailyStat.day, DailyStat.campaign_id, DailyStat.type, DailyStat.is_machine)
    ):
        values = owner[campaign_id].series.setdefault(stat_key(type_, is_machine), [0] * days)
        values[index[day]] += int(total)
    return SegmentTrends(days=calendar, segments=trends)
