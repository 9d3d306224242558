"""Campaign test data for tracking and analytics tests: a sent campaign, its links, deliveries."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Contact,
    Delivery,
    DeliveryStatus,
    Link,
    Message,
    Project,
)
from mailapp.models.base import utcnow
from tests import factories


def make_sent_campaign(
    project: Project, urls: list[str] | None = None, *, name: str = "Spring news", **fields: object
) -> Campaign:
    campaign = Campaign(
        project_id=project.id, name=name, status=CampaignStatus.SENT, launched_at=utcnow(), **fields
    )
    db.session.add(campaign)
    db.session.flush()
    for position, url in enumerate(urls or ["https://shop.example.com/spring"]):
        db.session.add(
            Link(project_id=project.id, campaign_id=campaign.id, position=position, url=url)
        )
    db.session.commit()
    return campaign


def make_delivery(
    campaign: Campaign, contact: Contact, *, sent_minutes_ago: float = 60
) -> Delivery:
    """A delivery sent `sent_minutes_ago`."""
    return factories.make_delivery(
        campaign,
        contact,
        status=DeliveryStatus.SENT,
        sent_at=utcnow() - timedelta(minutes=sent_minutes_ago),
    )


def make_message(project: Project, contact: Contact | None = None) -> Message:
    message = Message(
        project_id=project.id,
        recipient=contact.email if contact else "someone@example.org",
        contact_id=contact.id if contact else None,
        status=DeliveryStatus.SENT,
        sent_at=utcnow() - timedelta(minutes=60),
    )
    db.session.add(message)
    db.session.commit()
    return message


def links_of(campaign: Campaign) -> list[Link]:
    return list(
        db.session.scalars(
            sa.select(Link).where(Link.campaign_id == campaign.id).order_by(Link.position)
        )
    )
