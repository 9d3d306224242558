"""A project owner's rule that every member signs in with a second factor."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Membership, Project, Role, User, UserSession
from mailapp.models.base import utcnow


def members_two_factor(project_id: int) -> list[tuple[str, Role, bool]]:
    """Each member's email, role and whether they have two-factor sign-in on."""
    rows = db.session.execute(
        sa.select(User.email, Membership.role, User.totp_enabled_at.is_not(None))
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id)
        .order_by(User.email)
    )
    return [(email, role, bool(enabled)) for email, role, enabled in rows]


def set_project_two_factor(project: Project, required: bool, *, actor: Actor) -> int:
    """Require (or stop requiring) two-factor sign-in for every member of the project.

    Turning it on needs the acting person to have it on themselves (or they would lock
    themselves out); members without it are signed out and set it up at their next sign-in.
    Returns how many sessions ended.
    """
    if project.require_two_factor == required:
        return 0
    if required:
        acting = db.session.get(User, actor.user_id) if actor.user_id else None
        if acting is None or not acting.two_factor_enabled:
            raise ServiceError(
                "require_two_factor: turn on two-factor sign-in for your own account first "
                "(My account → Two-factor sign-in)"
            )
    project.require_two_factor = required
    ended = 0
    without = 0
    if required:
        lacking = (
            sa.select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.project_id == project.id, User.totp_enabled_at.is_(None))
        )
        without = db.session.scalar(sa.select(sa.func.count()).select_from(lacking.subquery()))
        # Sessions that signed in without a second factor stop here, enrolled or not.
        ended = db.session.execute(
            sa.update(UserSession)
            .where(
                UserSession.user_id.in_(
                    sa.select(Membership.user_id).where(Membership.project_id == project.id)
                ),
                UserSession.ended_at.is_(None),
                UserSession.method == "password",
            )
            .values(ended_at=utcnow(), end_reason="two-factor required")
            .execution_options(synchronize_session=False)
        ).rowcount
    record_audit(
        actor,
        "project.require_two_factor",
        project_id=project.id,
        obj=project,
        context={
            "changes": {"require_two_factor": {"old": not required, "new": required}},
            "members_without_two_factor": without,
            "sessions_ended": ended,
        },
    )
    db.session.commit()
    return ended


def projects_requiring(user_id: int) -> list[str]:
    """The names of the person's projects that require two-factor sign-in."""
    return list(
        db.session.scalars(
            sa.select(Project.name)
            .join(Membership, Membership.project_id == Project.id)
            .where(Membership.user_id == user_id, Project.require_two_factor.is_(True))
            .order_by(Project.name)
        )
    )
