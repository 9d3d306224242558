"""Guardrails: a campaign whose bounce or complaint rate passes its threshold pauses itself,
and so does one whose recipients' copies the template sandbox keeps refusing."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.delivery.campaigns import PIPELINE, pause_campaign
from mailapp.delivery.outcomes import RENDER_REFUSALS_TO_PAUSE
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Project,
)


def enforce_guardrails(campaign_id: int) -> str | None:
    """Pause the campaign when its bounce or complaint rate passes its threshold."""
    campaign = db.session.get(Campaign, campaign_id)
    rules = (campaign.guardrails or {}) if campaign else {}
    limits = {
        EventType.BOUNCE_HARD: rules.get("max_bounce_rate"),
        EventType.COMPLAINT: rules.get("max_complaint_rate"),
    }
    if campaign is None or campaign.status != CampaignStatus.SENDING or not any(limits.values()):
        return None
    sent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status == DeliveryStatus.SENT)
    )
    if sent < int(rules.get("min_sample", 100)):
        return None
    counts = dict(
        db.session.execute(
            sa.select(Event.type, sa.func.count())
            .where(
                Event.project_id == campaign.project_id,
                Event.campaign_id == campaign.id,
                Event.type.in_(list(limits)),
            )
            .group_by(Event.type)
        ).all()
    )
    for kind, limit in limits.items():
        rate = counts.get(kind, 0) / sent
        if limit is not None and rate > float(limit):
            reason = f"auto-paused: {kind.value} rate {rate:.2%} above {float(limit):.2%}"
            project = db.session.get(Project, campaign.project_id)
            pause_campaign(project, campaign.id, actor=PIPELINE, reason=reason)
            return reason
    return None


def pause_unrenderable(project: Project, campaign_id: int, error: str) -> str:
    """Pause a campaign whose template the sandbox refused for several recipients in a row."""
    reason = (
        f"auto-paused: {RENDER_REFUSALS_TO_PAUSE} recipients in a row could not be "
        f"rendered ({error})"
    )
    try:
        pause_campaign(project, campaign_id, actor=PIPELINE, reason=reason)
    except ServiceError:  # paused or cancelled meanwhile: nothing left to stop
        db.session.rollback()
    return reason
