"""The canary: a share of the audience sent first; the rest waits for its verdict.

At prepare the canary is sized: the campaign's share, but never fewer recipients than the
guardrails' minimum sample (all of them when the audience is smaller), so it is always
judged. Until its verdict, dispatch hands out canary rows only. The verdict comes once the
canary's mail has gone (none of its rows waits or is being sent) and the observation time
(`canary_minutes`) has passed, for late bounces and complaints to arrive: the guardrails
judge what the canary sent. Passed, the rest goes out; failed, the campaign pauses, and a
person who resumes it overrules the verdict.

The canary is a deterministic bucket of the contact id, so it needs no column: the same
expression picks its rows at prepare (on contacts) and at dispatch (on deliveries).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import record_audit
from mailapp.delivery.campaigns import PIPELINE
from mailapp.delivery.guardrails import (
    DEFAULT_MIN_SAMPLE,
    campaign_rates,
    enforce_guardrails,
    min_sample,
)
from mailapp.delivery.recipients import audience_filter
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Contact, Delivery, DeliveryStatus

BUCKETS = 10_000
WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


def canary_bucket(contact_id: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    """A well spread bucket per contact (a prime stride over the ids)."""
    return (contact_id * 7919) % BUCKETS


def plan_canary(campaign: Campaign, project_id: int) -> dict[str, Any] | None:
    """The canary's cut in buckets, sized to the share and at least the minimum sample."""
    rules = campaign.guardrails or {}
    share = float(rules.get("canary_share") or 0)
    if campaign.ab_test or share <= 0:
        return None
    where = audience_filter(project_id, campaign.snapshot["audience"])
    audience = db.session.scalar(sa.select(sa.func.count(Contact.id)).where(*where)) or 0
    sample = int(rules.get("min_sample", DEFAULT_MIN_SAMPLE))
    wanted = max(math.ceil(share * audience), min(sample, audience))
    if wanted >= audience:
        return {"share": share, "cut": BUCKETS}
    bucket = canary_bucket(Contact.id)
    nth = db.session.scalar(
        sa.select(bucket).where(*where).order_by(bucket).offset(max(wanted - 1, 0)).limit(1)
    )
    return {"share": share, "cut": int(nth) + 1}


def canary_rows(canary: dict[str, Any]) -> sa.ColumnElement[bool]:
    """The canary's Delivery rows."""
    return canary_bucket(Delivery.contact_id) < int(canary["cut"])


def count_canary(campaign_id: int, canary: dict[str, Any]) -> int:
    """How many rows the canary has (after prepare)."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign_id, canary_rows(canary))
    )


def canary_gate(campaign: Campaign, now: datetime) -> sa.ColumnElement[bool] | None:
    """None when the rest may go out; else the filter of the rows dispatch may hand out.

    Decides the verdict when its time has come (pausing the campaign if it failed).
    """
    canary = (campaign.snapshot or {}).get("canary")
    if not canary or canary.get("verdict") == "passed":
        return None
    only_canary = canary_rows(canary)
    if canary.get("verdict") == "paused":
        if campaign.status == CampaignStatus.SENDING:
            # Paused by its verdict, resumed by a person: the person overrules it.
            _decide(campaign, "passed", now, note="resumed by a person after the canary")
            return None
        return only_canary
    if _waiting(campaign.id, only_canary, Delivery.scheduled_at <= now):
        return only_canary
    if not canary.get("sent_at"):
        judged, _ = campaign_rates(campaign)
        if judged < min_sample(campaign) and _waiting(campaign.id, only_canary):
            return only_canary  # more of the canary is due later (a local-time campaign)
        _update(campaign, sent_at=now.isoformat())
        canary = campaign.snapshot["canary"]
    observe = timedelta(minutes=float((campaign.guardrails or {}).get("canary_minutes", 60)))
    if now < datetime.fromisoformat(canary["sent_at"]) + observe:
        return only_canary
    judged, counts = campaign_rates(campaign)
    reason = enforce_guardrails(campaign.id, sample=max(1, min(min_sample(campaign), judged)))
    if reason:
        _decide(campaign, "paused", now, note=reason, judged=judged, counts=counts)
        return only_canary
    _decide(campaign, "passed", now, judged=judged, counts=counts)
    return None


def _waiting(campaign_id: int, *where: sa.ColumnElement[bool]) -> bool:
    return (
        db.session.scalar(
            sa.select(Delivery.id)
            .where(Delivery.campaign_id == campaign_id, Delivery.status.in_(WAITING), *where)
            .limit(1)
        )
        is not None
    )


def _update(campaign: Campaign, **changes: Any) -> None:
    snapshot = dict(campaign.snapshot)
    snapshot["canary"] = {**snapshot["canary"], **changes}
    campaign.snapshot = snapshot


def _decide(
    campaign: Campaign,
    verdict: str,
    now: datetime,
    *,
    note: str | None = None,
    judged: int | None = None,
    counts: dict | None = None,
) -> None:
    _update(campaign, verdict=verdict, decided_at=now.isoformat(), note=note)
    context: dict[str, Any] = {"verdict": verdict, "note": note}
    if judged is not None:
        context["judged"] = judged
        context.update({str(kind): n for kind, n in (counts or {}).items()})
    record_audit(
        PIPELINE, "campaign.canary", project_id=campaign.project_id, obj=campaign, context=context
    )


def canary_state(campaign: Campaign) -> dict[str, Any] | None:
    """Where the canary stands, for the guardrails page (None before prepare or without)."""
    canary = (campaign.snapshot or {}).get("canary")
    if not canary:
        return None
    observe = timedelta(minutes=float((campaign.guardrails or {}).get("canary_minutes", 60)))
    sent_at = datetime.fromisoformat(canary["sent_at"]) if canary.get("sent_at") else None
    decided_at = canary.get("decided_at")
    by_share = math.ceil(float(canary["share"]) * int(campaign.snapshot.get("recipients") or 0))
    size = canary.get("size")
    return {
        "size": size,
        "recipients": campaign.snapshot.get("recipients"),
        # The share alone would have made a canary too small to judge.
        "by_share": by_share if size is not None and by_share < size else None,
        "min_sample": int((campaign.guardrails or {}).get("min_sample", DEFAULT_MIN_SAMPLE)),
        "verdict": canary.get("verdict"),
        "note": (canary.get("note") or "").removeprefix("auto-paused: ") or None,
        "sent_at": sent_at,
        "verdict_due": sent_at + observe if sent_at else None,
        "decided_at": datetime.fromisoformat(decided_at) if decided_at else None,
    }
