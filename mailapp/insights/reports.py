"""Campaign reports and project dashboards, read from aggregates, never from raw events.

Counts come from `DailyStat` (per day, campaign, type, human/machine), unique opens and
clicks from `CampaignEngagement`, clicks per link from `LinkStat`, send outcomes from the
campaign's `Delivery` rows. Those stay small whatever the event volume, so a dashboard
costs the same with ten events or ten million. The one raw-event read is the bounce
breakdown (top codes and domains): it touches a campaign's bounces only, through the
(project, campaign, type) index, and shows what retention has kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignEngagement,
    Contact,
    DailyStat,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Link,
    LinkStat,
    TemplateVersion,
)
from mailapp.models.base import utcnow

BOUNCE_TYPES = (EventType.BOUNCE_HARD, EventType.BOUNCE_SOFT)
BOUNCE_SAMPLE = 50_000  # bounces read for the breakdown; more is noise for a top-10


@dataclass
class LinkClicks:
    id: int
    position: int
    url: str
    clicks: int
    machine_clicks: int


@dataclass
class CampaignReport:
    campaign: Campaign
    outcomes: dict[str, int]  # delivery status -> rows
    counts: dict[str, int]  # human event type -> total
    machine: dict[str, int]  # machine event type -> total
    unique_opens: int
    unique_clicks: int
    machine_only_opens: int  # recipients whose only opens were machines'
    links: list[LinkClicks]
    timeline: list[tuple[date, dict[str, int]]]
    bounce_codes: list[tuple[str, int]] = field(default_factory=list)
    bounce_domains: list[tuple[str, int]] = field(default_factory=list)
    html: str | None = None

    @property
    def sent(self) -> int:
        return self.outcomes.get(DeliveryStatus.SENT, 0)

    @property
    def delivered(self) -> int:
        """Confirmed deliveries when a provider reports them, else sent minus bounces."""
        confirmed = self.counts.get(EventType.DELIVERED, 0)
        return confirmed or max(self.sent - self.counts.get(EventType.BOUNCE_HARD, 0), 0)

    def rate(self, part: int) -> float:
        return part / self.delivered if self.delivered else 0.0


def campaign_report(project_id: int, campaign_id: int) -> CampaignReport:
    """Everything the campaign report page and its CSV show."""
    campaign = db.session.scalar(
        sa.select(Campaign).where(Campaign.project_id == project_id, Campaign.id == campaign_id)
    )
    if campaign is None:
        raise NotFound("no such campaign")
    outcomes = dict(
        db.session.execute(
            sa.select(Delivery.status, sa.func.count())
            .where(Delivery.project_id == project_id, Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status)
        ).all()
    )
    counts: Counter[str] = Counter()
    machine: Counter[str] = Counter()
    by_day: dict[date, Counter[str]] = {}
    for day, type_, is_machine, total in db.session.execute(
        sa.select(DailyStat.day, DailyStat.type, DailyStat.is_machine, DailyStat.count).where(
            DailyStat.project_id == project_id, DailyStat.campaign_id == campaign_id
        )
    ):
        (machine if is_machine else counts)[type_] += total
        key = f"machine_{type_}" if is_machine else type_
        by_day.setdefault(day, Counter())[key] += total
    engaged = db.session.execute(
        sa.select(
            sa.func.count().filter(CampaignEngagement.opens > 0),
            sa.func.count().filter(CampaignEngagement.clicks > 0),
            sa.func.count().filter(
                CampaignEngagement.opens == 0, CampaignEngagement.machine_opens > 0
            ),
        ).where(
            CampaignEngagement.project_id == project_id,
            CampaignEngagement.campaign_id == campaign_id,
        )
    ).one()
    report = CampaignReport(
        campaign=campaign,
        outcomes={str(k): v for k, v in outcomes.items()},
        counts={str(k): v for k, v in counts.items()},
        machine={str(k): v for k, v in machine.items()},
        unique_opens=engaged[0],
        unique_clicks=engaged[1],
        machine_only_opens=engaged[2],
        links=_links(project_id, campaign_id),
        timeline=_fill_days(by_day),
        html=_snapshot_html(project_id, campaign),
    )
    report.bounce_codes, report.bounce_domains = _bounce_breakdown(project_id, campaign_id)
    return report


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


def _bounce_breakdown(
    project_id: int, campaign_id: int
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    rows = db.session.execute(
        sa.select(Event.payload, Contact.email)
        .outerjoin(Contact, Contact.id == Event.contact_id)
        .where(
            Event.project_id == project_id,
            Event.campaign_id == campaign_id,
            Event.type.in_(BOUNCE_TYPES),
        )
        .limit(BOUNCE_SAMPLE)
    )
    codes: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    for payload, email in rows:
        payload = payload or {}
        code = payload.get("enhanced_code") or payload.get("status") or payload.get("code")
        codes[str(code) if code else "unknown"] += 1
        if email and "@" in email:
            domains[email.rsplit("@", 1)[1].lower()] += 1
    return codes.most_common(10), domains.most_common(10)


def _snapshot_html(project_id: int, campaign: Campaign) -> str | None:
    """The HTML the campaign went out with: inline in the snapshot, or its first variant's."""
    snapshot = campaign.snapshot or {}
    if isinstance(snapshot.get("html"), str):
        return snapshot["html"]
    variants = snapshot.get("variants") or []
    version_id = variants[0].get("version_id") if variants else None
    if version_id is None:
        return None
    return db.session.scalar(
        sa.select(TemplateVersion.html).where(
            TemplateVersion.project_id == project_id, TemplateVersion.id == version_id
        )
    )


def _fill_days(by_day: dict[date, Counter[str]]) -> list[tuple[date, dict[str, int]]]:
    if not by_day:
        return []
    first, last = min(by_day), max(by_day)
    return [
        (first + timedelta(days=n), dict(by_day.get(first + timedelta(days=n), {})))
        for n in range((last - first).days + 1)
    ]


@dataclass
class Dashboard:
    days: list[date]
    # "open", "click", "machine_open", ... -> one value per day
    series: dict[str, list[int]]
    totals: dict[str, int]
    campaigns: list[tuple[int, str, dict[str, int]]]  # id, name, totals in the period


def project_dashboard(project_id: int, *, days: int = 30, today: date | None = None) -> Dashboard:
    """Per-day trends and the most active campaigns of the last `days` days."""
    today = today or utcnow().date()
    start = today - timedelta(days=days - 1)
    calendar = [start + timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(calendar)}
    series: dict[str, list[int]] = {}
    totals: Counter[str] = Counter()
    for day, type_, is_machine, total in db.session.execute(
        sa.select(DailyStat.day, DailyStat.type, DailyStat.is_machine, sa.func.sum(DailyStat.count))
        .where(DailyStat.project_id == project_id, DailyStat.day.between(start, today))
        .group_by(DailyStat.day, DailyStat.type, DailyStat.is_machine)
    ):
        key = f"machine_{type_}" if is_machine else str(type_)
        series.setdefault(key, [0] * days)[index[day]] += int(total)
        totals[key] += int(total)
    per_campaign: dict[int, Counter[str]] = {}
    for campaign_id, type_, total in db.session.execute(
        sa.select(DailyStat.campaign_id, DailyStat.type, sa.func.sum(DailyStat.count))
        .where(
            DailyStat.project_id == project_id,
            DailyStat.day.between(start, today),
            DailyStat.campaign_id != 0,
            DailyStat.is_machine.is_(False),
        )
        .group_by(DailyStat.campaign_id, DailyStat.type)
    ):
        per_campaign.setdefault(campaign_id, Counter())[str(type_)] += int(total)
    top = sorted(
        per_campaign, key=lambda c: (per_campaign[c]["open"], per_campaign[c]["sent"]), reverse=True
    )[:10]
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
        totals=dict(totals),
        campaigns=[(c, names.get(c, f"#{c}"), dict(per_campaign[c])) for c in top],
    )
