"""Guardrails: a campaign whose bounce or complaint rate passes its threshold pauses itself,
and so does one whose recipients' copies the template sandbox keeps refusing.

Judged whenever the facts change: at the end of each send batch, whenever a bounce or a
complaint is recorded (ESP webhook, bounce mailbox, MTA pipe: `feedback.guardrail_checks`
asks for `check_guardrails` after the event is committed), and by the canary's gate
(`delivery.canary`) before the rest of the campaign goes out. Each auto-pause raises an
alert to the project's owners (`alerts.raising.raise_campaign_paused`).
"""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.alerts.raising import raise_campaign_paused
from mailapp.delivery.campaigns import PIPELINE, pause_campaign
from mailapp.delivery.outcomes import RENDER_REFUSALS_TO_PAUSE
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.feedback.guardrail_checks import check_started
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Project,
)

DEFAULT_MIN_SAMPLE = 100
# Mail a receiving server answered: sent, or refused at once (an at-send hard bounce).
JUDGED = (DeliveryStatus.SENT, DeliveryStatus.FAILED)
NAMES = {EventType.BOUNCE_HARD: "hard bounce", EventType.COMPLAINT: "complaint"}


def min_sample(campaign: Campaign) -> int:
    """Messages that must have gone out before the rates are judged.

    While the canary waits for its verdict, no more than the canary itself: a canary
    smaller than the sample would otherwise never be judged.
    """
    wanted = int((campaign.guardrails or {}).get("min_sample", DEFAULT_MIN_SAMPLE))
    canary = (campaign.snapshot or {}).get("canary")
    if canary and canary.get("verdict") != "passed":
        return max(1, min(wanted, int(canary.get("size") or wanted)))
    return wanted


def campaign_rates(campaign: Campaign) -> tuple[int, dict[EventType, int]]:
    """Messages judged so far, and the campaign's hard bounces and complaints."""
    judged = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status.in_(JUDGED))
    )
    counts = dict(
        db.session.execute(
            sa.select(Event.type, sa.func.count())
            .where(
                Event.project_id == campaign.project_id,
                Event.campaign_id == campaign.id,
                Event.type.in_((EventType.BOUNCE_HARD, EventType.COMPLAINT)),
            )
            .group_by(Event.type)
        ).all()
    )
    return judged, counts


def enforce_guardrails(campaign_id: int, *, sample: int | None = None) -> str | None:
    """Pause the campaign when its bounce or complaint rate passes its threshold."""
    campaign = db.session.get(Campaign, campaign_id)
    rules = (campaign.guardrails or {}) if campaign else {}
    limits = {
        EventType.BOUNCE_HARD: rules.get("max_bounce_rate"),
        EventType.COMPLAINT: rules.get("max_complaint_rate"),
    }
    if campaign is None or campaign.status != CampaignStatus.SENDING or not any(limits.values()):
        return None
    judged, counts = campaign_rates(campaign)
    if judged == 0 or judged < (sample if sample is not None else min_sample(campaign)):
        return None
    for kind, limit in limits.items():
        rate = counts.get(kind, 0) / judged
        if limit is not None and rate > float(limit):
            reason = f"auto-paused: {NAMES[kind]} rate {rate:.2%} above {float(limit):.2%}"
            project = db.session.get(Project, campaign.project_id)
            pause_campaign(project, campaign.id, actor=PIPELINE, reason=reason)
            raise_campaign_paused(project, campaign, reason)
            return reason
    return None


def pause_unrenderable(project: Project, campaign_id: int, error: str) -> str:
    """Pause a campaign whose template the sandbox refused for several recipients in a row."""
    reason = (
        f"auto-paused: {RENDER_REFUSALS_TO_PAUSE} recipients in a row could not be "
        f"rendered ({error})"
    )
    try:
        campaign = pause_campaign(project, campaign_id, actor=PIPELINE, reason=reason)
    except ServiceError:  # paused or cancelled meanwhile: nothing left to stop
        db.session.rollback()
    else:
        raise_campaign_paused(project, campaign, reason)
    return reason


def check_guardrails(campaign_id: int) -> str | None:
    """Judge a campaign after feedback arrived (the worker's side of the request)."""
    # Cleared before reading: feedback committed from now on asks for another check.
    check_started(campaign_id)
    reason = enforce_guardrails(campaign_id)
    db.session.commit()
    return reason
