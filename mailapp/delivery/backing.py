"""Backing campaigns: a journey's email step sends through a campaign of its own, so the
campaign guarantees (never twice, suppression and status re-checked at send, quiet hours,
frequency caps, rate limits, reports) hold for journey mail too.

A backing campaign is opened `sending` with a frozen snapshot like a launch's and marked
prepared: the pipeline never prepares nor finishes it; the journey engine adds its
Delivery rows, one per (contact, enrollment round). Pausing or stopping the journey pauses
or cancels its backing campaigns (`hold_backing`, `cancel_backing`, `resume_backing`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from mailapp.delivery.campaigns import OPEN_DELIVERIES
from mailapp.delivery.launch import freeze_snapshot
from mailapp.delivery.outcomes import Claimed
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Enrollment,
    JourneyVersion,
    Project,
    Sender,
    Template,
)
from mailapp.upserts import in_values


def open_backing_campaign(
    project: Project,
    *,
    name: str,
    sender_id: int,
    template_id: int,
    subject: str | None,
    journey_version_id: int,
    journey_step: str,
    now: datetime,
    running: bool = True,
) -> Campaign:
    """A sending (or paused) campaign for one email step of a journey version (not
    committed)."""
    sender = db.session.get(Sender, sender_id)
    template = db.session.get(Template, template_id)
    if sender is None or sender.project_id != project.id:
        raise ServiceError(f"step “{journey_step}”: no such sender in this project")
    if template is None or template.project_id != project.id or not template.published_version:
        raise ServiceError(f"step “{journey_step}”: the template has no published version")
    campaign = Campaign(
        project_id=project.id,
        name=name[:200],
        status=CampaignStatus.SENDING if running else CampaignStatus.PAUSED,
        sender_id=sender.id,
        template_id=template.id,
        audience={},
        journey_version_id=journey_version_id,
        journey_step=journey_step,
        launched_at=now,
        paused_reason=None if running else "the journey is paused",
    )
    db.session.add(campaign)
    db.session.flush()
    chosen = [("A", template.published_version, subject or None)]
    campaign.snapshot = freeze_snapshot(campaign, sender, chosen) | {
        "prepared_at": now.isoformat(),
        "journey_step": journey_step,
    }
    return campaign


def backing_campaigns(version_id: int) -> dict[str, int]:
    """The version's email steps and the campaign id each sends through."""
    return dict(
        db.session.execute(
            sa.select(Campaign.journey_step, Campaign.id).where(
                Campaign.journey_version_id == version_id
            )
        ).all()
    )


def _journey_campaigns(journey_id: int) -> sa.Select:
    return sa.select(Campaign.id).where(
        Campaign.journey_version_id.in_(
            sa.select(JourneyVersion.id).where(JourneyVersion.journey_id == journey_id)
        )
    )


def hold_backing(journey_id: int, reason: str) -> int:
    """Pause the journey's sending campaigns (not committed)."""
    return db.session.execute(
        sa.update(Campaign)
        .where(
            Campaign.id.in_(_journey_campaigns(journey_id)),
            Campaign.status.in_((CampaignStatus.SCHEDULED, CampaignStatus.SENDING)),
        )
        .values(status=CampaignStatus.PAUSED, paused_reason=reason[:200])
    ).rowcount


def resume_backing(journey_id: int) -> int:
    """Resume the journey's paused campaigns; their waiting rows are dispatched anew."""
    ids = list(
        db.session.scalars(
            _journey_campaigns(journey_id).where(Campaign.status == CampaignStatus.PAUSED)
        )
    )
    if not ids:
        return 0
    db.session.execute(
        sa.update(Campaign)
        .where(Campaign.id.in_(ids))
        .values(status=CampaignStatus.SENDING, paused_reason=None)
    )
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.campaign_id.in_(ids), Delivery.status.in_(OPEN_DELIVERIES))
        .values(claimed_at=None)
    )
    return len(ids)


def cancel_backing(journey_id: int, now: datetime) -> int:
    """Cancel the journey's campaigns for good: waiting rows fail `cancelled`."""
    ids = list(
        db.session.scalars(
            _journey_campaigns(journey_id).where(Campaign.status != CampaignStatus.CANCELLED)
        )
    )
    if not ids:
        return 0
    db.session.execute(
        sa.update(Campaign)
        .where(Campaign.id.in_(ids))
        .values(status=CampaignStatus.CANCELLED, finished_at=now)
    )
    return db.session.execute(
        sa.update(Delivery)
        .where(Delivery.campaign_id.in_(ids), Delivery.status.in_(OPEN_DELIVERIES))
        .values(status=DeliveryStatus.FAILED, reason="cancelled")
    ).rowcount


def drop_queued(journey_id: int, contact_id: int, round_: int, reason: str) -> int:
    """A contact taken out of a journey: its queued journey mail is not sent."""
    return db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.campaign_id.in_(_journey_campaigns(journey_id)),
            Delivery.contact_id == contact_id,
            Delivery.round == round_,
            Delivery.status.in_(OPEN_DELIVERIES),
        )
        .values(status=DeliveryStatus.FAILED, reason=reason[:64])
    ).rowcount


def journey_data(campaign: Campaign, claimed: list[Claimed]) -> dict[tuple[int, int], dict]:
    """A journey email's `event` variables: each enrollment's data, by (contact, round)."""
    if campaign.journey_version_id is None or not claimed:
        return {}
    journey = (
        sa.select(JourneyVersion.journey_id)
        .where(JourneyVersion.id == campaign.journey_version_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Enrollment.contact_id, Enrollment.round, Enrollment.data).where(
            Enrollment.journey_id == journey,
            in_values(Enrollment.contact_id, {row.contact_id for row in claimed}),
        )
    )
    return {(contact_id, round_): data or {} for contact_id, round_, data in rows}
