"""What a project's landing page shows: audience by status, recent campaigns, recent audit."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import AuditLog, Campaign, Contact, ContactStatus


@dataclass(frozen=True)
class Overview:
    contacts_by_status: dict[ContactStatus, int]
    recent_campaigns: list[Campaign]
    recent_audit: list[AuditLog]

    @property
    def contacts_total(self) -> int:
        return sum(self.contacts_by_status.values())


def project_overview(project_id: int, *, with_audit: bool, limit: int = 10) -> Overview:
    """Counts by status (one grouped query on the (project_id, status) index) and recent rows."""
    counts = dict.fromkeys(ContactStatus, 0)
    for status, count in db.session.execute(
        sa.select(Contact.status, sa.func.count())
        .where(Contact.project_id == project_id)
        .group_by(Contact.status)
    ):
        counts[status] = count
    campaigns = db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.project_id == project_id)
        .order_by(Campaign.id.desc())
        .limit(limit)
    ).all()
    audit = (
        db.session.scalars(
            sa.select(AuditLog)
            .where(AuditLog.project_id == project_id)
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
            .limit(limit)
        ).all()
        if with_audit
        else []
    )
    return Overview(counts, list(campaigns), list(audit))
