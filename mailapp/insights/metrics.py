"""The one definition of a report's figures, used by every page, chart and CSV.

- **Sent**: messages handed to a receiving mail server, whether it accepted them (a 2xx
  reply) or refused them at once (a hard bounce during the SMTP conversation).
- **Bounced**: hard and soft bounces, refused at send or returned afterwards (DSN, ESP).
- **Delivered**: sent minus bounced, the industry's "successful deliveries" (Mailchimp,
  Postmark): accepted by the recipient's server and not returned since. An ESP's own
  "delivered" notices are not needed for it, and not added to it.
- **Opens, clicks**: human ones; privacy proxies, prefetches and link scanners are counted
  apart as machine events. *Unique* counts recipients, *total* counts every open or click.
- **Rates**: per delivered message (bounces: per sent message).

Every figure is read from the aggregates (DailyStat for counts, CampaignEngagement for
uniques), never from raw events, so a page costs the same whatever the event volume.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import CampaignEngagement, DailyStat

DELIVERED_EXPLAINED = (
    "Delivered = sent minus hard and soft bounces (accepted by the recipient's server and "
    "not returned). Opens and clicks are people's: privacy proxies and link scanners are "
    "counted apart as machine events. Rates are per delivered message."
)


@dataclass(frozen=True)
class Metrics:
    """A report's figures for one campaign, several, or a period."""

    sent: int = 0
    bounce_hard: int = 0
    bounce_soft: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    opens: int = 0  # total human opens
    clicks: int = 0  # total human clicks
    machine_opens: int = 0
    machine_clicks: int = 0
    unique_opens: int | None = None  # recipients; None where not known (a period)
    unique_clicks: int | None = None

    @property
    def bounced(self) -> int:
        return self.bounce_hard + self.bounce_soft

    @property
    def delivered(self) -> int:
        """Sent minus hard and soft bounces."""
        return max(self.sent - self.bounced, 0)

    def rate(self, part: int | None) -> float:
        """A count per delivered message."""
        return (part or 0) / self.delivered if self.delivered else 0.0

    @property
    def delivery_rate(self) -> float:
        return self.delivered / self.sent if self.sent else 0.0

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, int | None]:
        """Every figure by its key (the CSV and chart series names)."""
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "bounce_hard": self.bounce_hard,
            "bounce_soft": self.bounce_soft,
            "complaint": self.complaints,
            "unsubscribe": self.unsubscribes,
            "open": self.opens,
            "click": self.clicks,
            "machine_open": self.machine_opens,
            "machine_click": self.machine_clicks,
            "unique_open": self.unique_opens,
            "unique_click": self.unique_clicks,
        }


def metrics_from_counts(
    counts: Mapping[str, int], *, unique_opens: int | None = None, unique_clicks: int | None = None
) -> Metrics:
    """Metrics from DailyStat sums keyed "sent", "open", ..., "machine_open", "machine_click"."""
    return Metrics(
        sent=counts.get("sent", 0),
        bounce_hard=counts.get("bounce_hard", 0),
        bounce_soft=counts.get("bounce_soft", 0),
        complaints=counts.get("complaint", 0),
        unsubscribes=counts.get("unsubscribe", 0),
        opens=counts.get("open", 0),
        clicks=counts.get("click", 0),
        machine_opens=counts.get("machine_open", 0),
        machine_clicks=counts.get("machine_click", 0),
        unique_opens=unique_opens,
        unique_clicks=unique_clicks,
    )


def delivered_series(series: Mapping[str, list[int]], days: int) -> list[int]:
    """Delivered per day from the per-day sent and bounce series (the same definition)."""
    zeros = [0] * days
    sent, hard, soft = (series.get(k, zeros) for k in ("sent", "bounce_hard", "bounce_soft"))
    return [max(s - h - b, 0) for s, h, b in zip(sent, hard, soft, strict=True)]


def stat_key(type_: str, is_machine: bool) -> str:
    """The series key of a DailyStat row: "open", or "machine_open" for machines."""
    return f"machine_{type_}" if is_machine else str(type_)


def campaign_metrics(
    project_id: int, campaign_ids: Iterable[int], *, since: date | None = None
) -> dict[int, Metrics]:
    """Each campaign's figures (with unique opens and clicks), in two grouped queries.

    `since` limits the counts to days from then on (a dashboard's period); uniques are
    then None, as a recipient's first open may fall before it.
    """
    ids = sorted(set(campaign_ids))
    if not ids:
        return {}
    query = (
        sa.select(
            DailyStat.campaign_id,
            DailyStat.type,
            DailyStat.is_machine,
            sa.func.sum(DailyStat.count),
        )
        .where(DailyStat.project_id == project_id, DailyStat.campaign_id.in_(ids))
        .group_by(DailyStat.campaign_id, DailyStat.type, DailyStat.is_machine)
    )
    if since is not None:
        query = query.where(DailyStat.day >= since)
    counts: dict[int, Counter[str]] = {cid: Counter() for cid in ids}
    for campaign_id, type_, is_machine, total in db.session.execute(query):
        counts[campaign_id][stat_key(type_, is_machine)] += int(total)
    uniques: dict[int, tuple[int, int]] = {}
    if since is None:
        for campaign_id, opened, clicked in db.session.execute(
            sa.select(
                CampaignEngagement.campaign_id,
                sa.func.count().filter(CampaignEngagement.opens > 0),
                sa.func.count().filter(CampaignEngagement.clicks > 0),
            )
            .where(
                CampaignEngagement.project_id == project_id,
                CampaignEngagement.campaign_id.in_(ids),
            )
            .group_by(CampaignEngagement.campaign_id)
        ):
            uniques[campaign_id] = (opened, clicked)
    return {
        cid: metrics_from_counts(
            counts[cid],
            unique_opens=uniques.get(cid, (0, 0))[0] if since is None else None,
            unique_clicks=uniques.get(cid, (0, 0))[1] if since is None else None,
        )
        for cid in ids
    }
