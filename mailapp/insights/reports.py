"""Campaign reports and project dashboards, read from aggregates, never from raw events.

Figures follow the one definition in `insights.metrics` (sent, delivered, human and
machine opens and clicks). Counts come from `DailyStat`, unique opens and clicks from
`CampaignEngagement`, clicks per link from `LinkStat`, the first 48 hours from
`HourlyStat`, domains, clients and devices from `CampaignBreakdown`, the outbox's states
from the campaign's `Delivery` rows. The one raw-event read is the bounces (top codes and
the breakdown by reason, hard and soft): a campaign's bounces only, through the (project,
campaign, type) index, at most BOUNCE_SAMPLE of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.feedback.returns.codes import judge
from mailapp.insights.clickmap import RecipientCopy, recipient_copy
from mailapp.insights.metrics import (
    Metrics,
    campaign_metrics,
    delivered_series,
    metrics_from_counts,
    stat_key,
)
from mailapp.insights.timeline import Timeline, campaign_timeline
from mailapp.models import (
    Campaign,
    CampaignBreakdown,
    CampaignEngagement,
    DailyStat,
    Delivery,
    Event,
    EventType,
    Link,
    LinkStat,
)
from mailapp.models.base import utcnow
from mailapp.models.bounce_reason import BounceReason, reason_label

BOUNCE_TYPES = (EventType.BOUNCE_HARD, EventType.BOUNCE_SOFT)
BOUNCE_SAMPLE = 50_000  # bounces read for the top codes; more is noise for a top-10
TOP = 10


@dataclass
class LinkClicks:
    id: int
    position: int
    url: str
    clicks: int
    machine_clicks: int


@dataclass
class ReasonCount:
    """Bounces of one reason: the marketer's name for it, hard and soft counts."""

    reason: str
    label: str
    hard: int = 0
    soft: int = 0

    @property
    def total(self) -> int:
        return self.hard + self.soft


@dataclass
class CampaignReport:
    campaign: Campaign
    outcomes: dict[str, int]  # delivery status -> rows
    metrics: Metrics
    machine_only_opens: int  # recipients whose only opens were machines'
    links: list[LinkClicks]
    timeline: Timeline
    bounce_codes: list[tuple[str, int]] = field(default_factory=list)
    bounce_reasons: list[ReasonCount] = field(default_factory=list)  # most bounces first
    # (value, counts by type "sent", "open", ...), busiest first
    domains: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    clients: list[tuple[str, int]] = field(default_factory=list)  # opens per mail client
    devices: list[tuple[str, int]] = field(default_factory=list)  # human opens per device
    copy: RecipientCopy | None = None


def campaign_report(
    project_id: int, campaign_id: int, *, now: datetime | None = None
) -> CampaignReport:
    """Everything the campaign report page and its CSV show."""
    campaign = db.session.scalar(
        sa.select(Campaign).where(Campaign.project_id == project_id, Campaign.id == campaign_id)
    )
    if campaign is None:
        raise NotFound("no such campaign")
    outcomes = db.session.execute(
        sa.select(Delivery.status, sa.func.count())
        .where(Delivery.project_id == project_id, Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    ).all()
    machine_only = db.session.scalar(
        sa.select(sa.func.count()).where(
            CampaignEngagement.project_id == project_id,
            CampaignEngagement.campaign_id == campaign_id,
            CampaignEngagement.opens == 0,
            CampaignEngagement.machine_opens > 0,
        )
    )
    domains, clients, devices = _breakdowns(project_id, campaign_id)
    bounce_codes, bounce_reasons = _bounces(project_id, campaign_id)
    return CampaignReport(
        campaign=campaign,
        outcomes={str(k): v for k, v in outcomes},
        metrics=campaign_metrics(project_id, [campaign_id])[campaign_id],
        machine_only_opens=machine_only or 0,
        links=_links(project_id, campaign_id),
        timeline=campaign_timeline(project_id, campaign_id, campaign.launched_at, now=now),
        bounce_codes=bounce_codes,
        bounce_reasons=bounce_reasons,
        domains=domains,
        clients=clients,
        devices=devices,
        copy=recipient_copy(project_id, campaign),
    )


def _links(project_id: int, campaign_id: int) -> list[LinkClicks]:
    rows = db.session.execute(
        sa.select(
            Link.id,
            Link.position,
            Link.url,
            sa.func.coalesce(LinkStat.clicks, 0),
            sa.func.coalesce(LinkStat.machine_clicks, 0),
        )
        .outerjoin(LinkStat, LinkStat.link_id == Link.id)
        .where(Link.project_id == project_id, Link.campaign_id == campaign_id)
        .order_by(Link.position)
    )
    return [LinkClicks(*row) for row in rows]


BOUNCE_CODE_KEYS = ("enhanced_code", "status", "code")  # the first a bounce's payload has


def _bounces(project_id: int, campaign_id: int) -> tuple[list[tuple[str, int]], list[ReasonCount]]:
    """The top bounce codes, and every bounce reason with its hard and soft counts.

    Grouped in SQL over (up to BOUNCE_SAMPLE of) the campaign's bounces, so a big campaign's
    payloads never travel to Python: one row per kind, code and stored reason (and, for the
    older events that stored no reason, the reply text the reason is read from)."""
    payload = Event.payload
    stored_reason = sa.func.nullif(payload["bounce_reason"].as_string(), "")
    sample = (
        sa.select(
            Event.type.label("type"),
            sa.func.coalesce(
                *(sa.func.nullif(payload[key].as_string(), "") for key in BOUNCE_CODE_KEYS)
            ).label("code"),
            sa.func.nullif(payload["enhanced_code"].as_string(), "").label("enhanced"),
            sa.func.nullif(payload["status"].as_string(), "").label("status"),
            stored_reason.label("reason"),
            sa.case(
                (
                    stored_reason.is_(None),
                    sa.func.coalesce(
                        payload["diagnostic"].as_string(), payload["reply"].as_string()
                    ),
                ),
            ).label("text"),
        )
        .where(
            Event.project_id == project_id,
            Event.campaign_id == campaign_id,
            Event.type.in_(BOUNCE_TYPES),
        )
        .limit(BOUNCE_SAMPLE)
        .subquery()
    )
    columns = [sample.c[name] for name in ("type", "code", "enhanced", "status", "reason", "text")]
    rows = db.session.execute(sa.select(*columns, sa.func.count()).group_by(*columns))
    codes: Counter[str] = Counter()
    reasons: dict[str, ReasonCount] = {}
    for type_, code, enhanced, status, reason, text, count in rows:
        codes[str(code) if code else "unknown"] += count
        reason = bounce_reason_of(
            {"bounce_reason": reason, "enhanced_code": enhanced, "status": status, "reply": text}
        )
        entry = reasons.setdefault(reason, ReasonCount(reason, reason_label(reason)))
        if type_ == EventType.BOUNCE_HARD:
            entry.hard += count
        else:
            entry.soft += count
    by_reason = sorted(reasons.values(), key=lambda r: (-r.total, r.label))
    top = sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    return top, by_reason


def bounce_reason_of(payload: dict) -> str:
    """The reason a bounce event was filed under; for older events and refusals during the
    SMTP conversation, read from the code and reply they kept."""
    if payload.get("bounce_reason"):
        return str(payload["bounce_reason"])
    status = payload.get("enhanced_code") or payload.get("status")
    text = payload.get("diagnostic") or payload.get("reply") or ""
    verdict = judge(str(status) if status else None, str(text), "failed")
    return verdict.reason if verdict and verdict.reason else BounceReason.OTHER.value


def _breakdowns(
    project_id: int, campaign_id: int
) -> tuple[list[tuple[str, dict[str, int]]], list[tuple[str, int]], list[tuple[str, int]]]:
    by: dict[str, dict[str, Counter[str]]] = {"domain": {}, "client": {}, "device": {}}
    for dimension, value, type_, count in db.session.execute(
        sa.select(
            CampaignBreakdown.dimension,
            CampaignBreakdown.value,
            CampaignBreakdown.type,
            CampaignBreakdown.count,
        ).where(
            CampaignBreakdown.project_id == project_id,
            CampaignBreakdown.campaign_id == campaign_id,
        )
    ):
        by.setdefault(dimension, {}).setdefault(value, Counter())[str(type_)] += count
    domains = sorted(by["domain"].items(), key=lambda kv: (-kv[1]["sent"], -kv[1]["open"], kv[0]))[
        :TOP
    ]

    def opens(dimension: str) -> list[tuple[str, int]]:
        rows = [(value, c["open"]) for value, c in by[dimension].items() if c["open"] > 0]
        return sorted(rows, key=lambda row: (-row[1], row[0]))[:TOP]

    return [(d, dict(c)) for d, c in domains], opens("client"), opens("device")


@dataclass
class Dashboard:
    days: list[date]
    # "sent", "delivered", "open", "machine_open", ... -> one value per day
    series: dict[str, list[int]]
    totals: Metrics
    campaigns: list[tuple[int, str, Metrics]]  # id, name, figures in the period


def project_dashboard(project_id: int, *, days: int = 30, today: date | None = None) -> Dashboard:
    """Per-day trends and the most active campaigns of the last `days` days."""
    today = today or utcnow().date()
    start = today - timedelta(days=days - 1)
    calendar = [start + timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(calendar)}
    series: dict[str, list[int]] = {}
    totals: Counter[str] = Counter()
    active: Counter[int] = Counter()
    for day, campaign_id, type_, is_machine, total in db.session.execute(
        sa.select(
            DailyStat.day,
            DailyStat.campaign_id,
            DailyStat.type,
            DailyStat.is_machine,
            sa.func.sum(DailyStat.count),
        )
        .where(DailyStat.project_id == project_id, DailyStat.day.between(start, today))
        .group_by(DailyStat.day, DailyStat.campaign_id, DailyStat.type, DailyStat.is_machine)
    ):
        key = stat_key(type_, is_machine)
        series.setdefault(key, [0] * days)[index[day]] += int(total)
        totals[key] += int(total)
        if campaign_id and key in ("sent", "open"):
            active[campaign_id] += int(total)
    series["delivered"] = delivered_series(series, days)
    top = [cid for cid, _ in active.most_common(TOP)]
    figures = campaign_metrics(project_id, top, since=start)
    names = dict(
        db.session.execute(
            sa.select(Campaign.id, Campaign.name).where(
                Campaign.project_id == project_id, Campaign.id.in_(top)
            )
        ).all()
    )
    return Dashboard(
        days=calendar,
        series=series,
        totals=metrics_from_counts(totals),
        campaigns=[(c, names.get(c, f"#{c}"), figures[c]) for c in top],
    )
