"""Claims on campaign delivery rows: the one way a row becomes `sending`, and back.

A row is claimed (queued/deferred -> sending, with a claim time and one more attempt)
before anything is handed to a transport, in one statement that also checks the campaign
still sends; its outcome is later written only under that same claim. A redelivered
message, a second worker or a restarted one therefore finds nothing left to claim."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from mailapp.delivery.campaigns import OPEN_DELIVERIES
from mailapp.delivery.outcomes import Claimed
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Message,
    Project,
)
from mailapp.models.base import utcnow
from mailapp.upserts import in_values

D = Delivery.__table__


SENDABLE = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)


def claim_rows(campaign_id: int, ids: list[int], now: datetime) -> list[Claimed]:
    """queued/deferred -> sending for the due rows among ids; each row at most once, and
    none once the campaign stopped (checked in the same statement)."""
    sendable = (
        sa.select(Campaign.id)
        .join(Project, Project.id == Campaign.project_id)
        .where(
            Campaign.id == campaign_id,
            Campaign.status.in_(SENDABLE),
            Project.sending_stopped_at.is_(None),
        )
        .exists()
    )
    due = sa.and_(
        in_values(D.c.id, ids),
        D.c.campaign_id == campaign_id,
        D.c.status.in_([s.value for s in OPEN_DELIVERIES]),
        D.c.scheduled_at <= sa.literal(now, D.c.scheduled_at.type),
        D.c.variant.is_not(None),
        sendable,
    )
    if db.engine.dialect.name == "postgresql":
        locked = sa.select(D.c.id).where(due).with_for_update(skip_locked=True)
        due = D.c.id.in_(locked.scalar_subquery())
    rows = db.session.execute(
        sa.update(D)
        .where(due)
        .values(status=DeliveryStatus.SENDING.value, claimed_at=now, attempts=D.c.attempts + 1)
        .returning(
            D.c.id, D.c.contact_id, D.c.variant, D.c.attempts, D.c.first_deferred_at, D.c.round
        )
    ).all()
    db.session.commit()
    return [Claimed(*row) for row in rows]


def release_rows(ids: list[int], claimed_at: datetime, *, until: datetime | None = None) -> None:
    """Give claimed, untouched rows back (not attempted: the attempt is not counted)."""
    if not ids:
        return
    values: dict = {
        "status": DeliveryStatus.QUEUED.value,
        "claimed_at": None,
        "attempts": D.c.attempts - 1,
    }
    if until is not None:
        values["scheduled_at"] = until
    db.session.execute(
        sa.update(D)
        .where(
            in_values(D.c.id, ids),
            D.c.status == DeliveryStatus.SENDING.value,
            D.c.claimed_at == claimed_at,
        )
        .values(**values)
    )
    db.session.commit()


def unclaim_dispatched(campaign_id: int, ids: list[int]) -> None:
    """Rows handed to this batch but not claimed: let dispatch hand them out again later."""
    db.session.execute(
        sa.update(D)
        .where(
            in_values(D.c.id, ids),
            D.c.campaign_id == campaign_id,
            D.c.status.in_([s.value for s in OPEN_DELIVERIES]),
        )
        .values(claimed_at=None)
    )
    db.session.commit()


def recover_stale_claims(*, now: datetime | None = None) -> int:
    """Rows `sending` past their lease were in a dead worker's hands: mark them unknown.

    Whether they reached the server cannot be known, so they are never retried by
    themselves (that could deliver twice); the back office offers a deliberate resend.
    """
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    lost = 0
    for table in (Delivery.__table__, Message.__table__):
        lost += db.session.execute(
            sa.update(table)
            .where(table.c.status == DeliveryStatus.SENDING.value, table.c.claimed_at < now - lease)
            .values(status=DeliveryStatus.UNKNOWN.value, reason="worker lost")
        ).rowcount
    db.session.commit()
    return lost
