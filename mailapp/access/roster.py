"""Who can act in a project: its members and its API keys, as the API lists them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from mailapp.extensions import db
from mailapp.models import ApiKey, Membership


def project_members(project_id: int) -> list[Membership]:
    """The project's memberships with their users, in the order they were given."""
    return list(
        db.session.scalars(
            sa.select(Membership)
            .where(Membership.project_id == project_id)
            .options(joinedload(Membership.user))
            .order_by(Membership.id)
        )
    )


def project_api_keys(project_id: int) -> list[ApiKey]:
    """The project's API keys, revoked ones included (they stay for the audit trail)."""
    return list(
        db.session.scalars(
            sa.select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.id)
        )
    )
