"""The campaign report's own aggregates, folded from each batch of events like DailyStat.

HourlyStat holds a campaign's first 48 hours after launch per hour (the report's hourly
timeline); CampaignBreakdown its human events by recipient domain, and its opens by mail
client and device where the user agent tells. Both stay small whatever the event volume:
at most 48 hours, and one row per domain, client or device and type.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.aggregates import counted_as, upsert
from mailapp.feedback.clients import device, mail_client
from mailapp.models import Campaign, CampaignBreakdown, Contact, EventType, HourlyStat

HOURLY_WINDOW = timedelta(hours=48)
# What a recipient domain's row counts: the summary's figures, humans only.
DOMAIN_TYPES = frozenset(
    {
        EventType.SENT,
        EventType.BOUNCE_HARD,
        EventType.BOUNCE_SOFT,
        EventType.OPEN,
        EventType.CLICK,
        EventType.COMPLAINT,
        EventType.UNSUBSCRIBE,
    }
)


def upsert_hourly_stats(events: list[dict[str, Any]]) -> None:
    """Add the campaign events of the first 48 hours after launch to the per-hour counts."""
    campaign_ids = sorted({e["campaign_id"] for e in events if e["campaign_id"]})
    if not campaign_ids:
        return
    launched = dict(
        db.session.execute(
            sa.select(Campaign.id, Campaign.launched_at).where(Campaign.id.in_(campaign_ids))
        ).all()
    )
    counts: dict[tuple, int] = defaultdict(int)
    for e in events:
        start = launched.get(e["campaign_id"])
        if start is None or not start <= e["occurred_at"] < start + HOURLY_WINDOW:
            continue
        hour = hour_of(e["occurred_at"])
        for type_ in counted_as(e):
            key = (e["project_id"], e["campaign_id"], hour, type_, e["is_machine"])
            counts[key] += e.get("weight", 1)
    if not counts:
        return
    upsert(
        HourlyStat,
        [
            {"project_id": p, "campaign_id": c, "hour": h, "type": t, "is_machine": m, "count": n}
            for (p, c, h, t, m), n in sorted(counts.items())
        ],
        ["project_id", "campaign_id", "hour", "type", "is_machine"],
        {"count": lambda c, x: c.count + x.count},
    )


def upsert_breakdowns(events: list[dict[str, Any]]) -> None:
    """Add the campaign events to the per-domain, per-client and per-device counts."""
    counts: dict[tuple[int, int, str, str, EventType], int] = defaultdict(int)
    wanted = [e for e in events if e["campaign_id"] and e["contact_id"]]
    domains = _domains({e["contact_id"] for e in wanted if not e["is_machine"]})
    for e in wanted:
        scope, weight = (e["project_id"], e["campaign_id"]), e.get("weight", 1)
        domain = domains.get(e["contact_id"])
        if domain and not e["is_machine"]:
            for type_ in counted_as(e):
                if type_ in DOMAIN_TYPES:
                    counts[(*scope, "domain", domain, type_)] += weight
        if e["type"] != EventType.OPEN:
            continue
        payload = e.get("payload") or {}
        client = mail_client(payload.get("ua"), payload.get("machine"))
        if client:
            counts[(*scope, "client", client, EventType.OPEN)] += weight
        kind = None if e["is_machine"] else device(payload.get("ua"))
        if kind:
            counts[(*scope, "device", kind, EventType.OPEN)] += weight
    if not counts:
        return
    upsert(
        CampaignBreakdown,
        [
            {"project_id": p, "campaign_id": c, "dimension": d, "value": v, "type": t, "count": n}
            for (p, c, d, v, t), n in sorted(counts.items())
        ],
        ["project_id", "campaign_id", "dimension", "value", "type"],
        {"count": lambda c, x: c.count + x.count},
    )


def _domains(contact_ids: set[int]) -> dict[int, str]:
    """Each contact's address domain (lower case), read by primary key."""
    if not contact_ids:
        return {}
    rows = db.session.execute(
        sa.select(Contact.id, Contact.email).where(Contact.id.in_(sorted(contact_ids)))
    )
    return {cid: email.rsplit("@", 1)[1].lower()[:255] for cid, email in rows if "@" in email}


def hour_of(moment: datetime) -> datetime:
    """The start of the hour a moment falls in (the HourlyStat bucket)."""
    return moment.replace(minute=0, second=0, microsecond=0)
