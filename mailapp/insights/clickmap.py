"""The click map's document: the campaign's frozen content as one real recipient got it.

Rendered again like the view-in-browser copy (delivery.browser_view): the delivery's own
variant, locale and personalization. Each stored link's href becomes `#link-<id>` instead
of a signed click URL, so the map can mark it and a click inside the map records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mailapp.content.isolation import render_isolated
from mailapp.content.links import rewrite_links
from mailapp.content.rendering import RenderError, compile_content
from mailapp.content.rendering import template_context as context_for
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    Contact,
    ContactStatus,
    Delivery,
    DeliveryStatus,
    Link,
    Project,
    TemplateVersion,
)

LINK_ANCHOR = "#link-{id}"


@dataclass(frozen=True)
class RecipientCopy:
    html: str
    contact_id: int


def recipient_copy(project_id: int, campaign: Campaign) -> RecipientCopy | None:
    """The campaign's message rendered for its first recipient who was sent it, or None."""
    row = db.session.execute(
        sa.select(Delivery, Contact)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(
            Delivery.project_id == project_id,
            Delivery.campaign_id == campaign.id,
            Delivery.status == DeliveryStatus.SENT,
            Contact.status != ContactStatus.ERASED,
        )
        .order_by(Delivery.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    delivery, contact = row
    variants = (campaign.snapshot or {}).get("variants", [])
    spec = next((v for v in variants if v.get("key") == delivery.variant), None)
    version = db.session.get(TemplateVersion, spec["version_id"]) if spec else None
    if version is None or version.project_id != project_id:
        return None
    context = context_for(
        contact,
        unsubscribe_url="#unsubscribe",
        view_url="#view-in-browser",
        campaign=campaign,
        project=db.session.get(Project, project_id),
    )
    try:
        rendered = render_isolated(
            compile_content(version, contact.locale, spec.get("subject")), context
        )
    except RenderError:
        return None
    link_ids = _link_ids(campaign)

    def anchor(_position: int, url: str) -> str | None:
        link_id = link_ids.get(url)
        return LINK_ANCHOR.format(id=link_id) if link_id else None

    return RecipientCopy(rewrite_links(rendered.html, anchor), contact.id)


def _link_ids(campaign: Campaign) -> dict[str, int]:
    """The stored links by the URL written in the content (as the send path reads them)."""
    by_position = dict(
        db.session.execute(
            sa.select(Link.position, Link.id).where(
                Link.project_id == campaign.project_id, Link.campaign_id == campaign.id
            )
        ).all()
    )
    urls = (campaign.snapshot or {}).get("links", [])
    return {url: by_position[p] for p, url in enumerate(urls) if p in by_position}
