"""Campaign deliveries in the activity log: the same search and keyset pages as messages.

Search by address (through the project's contact), Message-ID (`<delivery.N@domain>` names
the delivery's id) or provider message id uses an index each; the status and time filters
narrow a scan of the project's deliveries, newest first, and stop at a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from mailapp.audience.suppression import normalize_address
from mailapp.extensions import db
from mailapp.insights.message_log import MAX_PAGE_SIZE, PAGE_SIZE, LogFilters
from mailapp.models import Campaign, Contact, Delivery

DELIVERY_ID_RE = re.compile(r"^<?delivery\.(\d{1,18})@[^>]+>?$")


@dataclass
class DeliveryRow:
    delivery: Delivery
    email: str | None
    campaign_name: str


@dataclass
class DeliveryPage:
    rows: list[DeliveryRow]
    newer: int | None
    older: int | None


def _search(project_id: int, q: str) -> sa.ColumnElement[bool]:
    matches = [Delivery.provider_message_id == q]
    if found := DELIVERY_ID_RE.match(q):
        matches.append(Delivery.id == int(found[1]))
    if "@" in q:
        contact = (
            sa.select(Contact.id)
            .where(Contact.project_id == project_id, Contact.email == normalize_address(q))
            .scalar_subquery()
        )
        matches.append(Delivery.contact_id == contact)
    return sa.or_(*matches)


def delivery_page(
    project_id: int,
    filters: LogFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> DeliveryPage:
    """One page of the project's campaign deliveries, newest first."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = (
        sa.select(Delivery, Contact.email, Campaign.name)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .outerjoin(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.project_id == project_id)
    )
    if filters.q:
        query = query.where(_search(project_id, filters.q))
    if filters.status:
        query = query.where(Delivery.status == filters.status)
    if filters.since:
        query = query.where(Delivery.scheduled_at >= filters.since)
    if filters.until:
        query = query.where(Delivery.scheduled_at < filters.until)
    if after is not None:
        query = query.where(Delivery.id > after).order_by(Delivery.id.asc())
    else:
        if before is not None:
            query = query.where(Delivery.id < before)
        query = query.order_by(Delivery.id.desc())
    found = [
        DeliveryRow(d, email, name) for d, email, name in db.session.execute(query.limit(limit + 1))
    ]
    more = len(found) > limit
    found = found[:limit]
    if after is not None:
        found.reverse()
    first, last = (found[0].delivery.id, found[-1].delivery.id) if found else (None, None)
    has_newer = (after is not None and more) or (after is None and before is not None)
    has_older = (after is None and more) or after is not None
    return DeliveryPage(found, first if has_newer else None, last if has_older else None)
