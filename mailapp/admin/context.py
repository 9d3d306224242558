"""Who is acting in the back office, and in which project (kept in the session)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, g, has_request_context, request, session
from flask_login import current_user

from mailapp.access.audit import Actor
from mailapp.access.permissions import Permission, permissions_for
from mailapp.extensions import db
from mailapp.models import Membership, Project, Role
from mailapp.runtime.logs import bind_request_ids

SESSION_KEY = "project_id"


def available_projects() -> list[Project]:
    """The projects the logged-in user may switch to (every project for a superuser)."""
    if not current_user.is_authenticated:
        return []
    query = sa.select(Project).order_by(Project.name)
    if not current_user.is_superuser:
        query = query.join(Membership, Membership.project_id == Project.id).where(
            Membership.user_id == current_user.id
        )
    return list(db.session.scalars(query))


def _membership_role(project_id: int) -> Role | None:
    return db.session.scalar(
        sa.select(Membership.role).where(
            Membership.user_id == current_user.id, Membership.project_id == project_id
        )
    )


def _resolve() -> tuple[Project | None, Role | None]:
    """The session's project if the user may still use it, else their first project."""
    if "mailapp_project" in g:
        return g.mailapp_project
    project, role = None, None
    if has_request_context() and current_user.is_authenticated:
        wanted = session.get(SESSION_KEY)
        if wanted is not None:
            role = _membership_role(wanted)
            if role is not None or current_user.is_superuser:
                project = db.session.get(Project, wanted)
        if project is None:
            projects = available_projects()
            project = projects[0] if projects else None
            role = _membership_role(project.id) if project else None
        if project is not None and current_user.is_superuser:
            role = Role.OWNER
        if project is not None:
            session[SESSION_KEY] = project.id
            bind_request_ids(project_id=project.id)
    g.mailapp_project = (project, role)
    return project, role


def switch_project(project_id: int) -> Project:
    """Make another of the user's projects current; 404 for a project they cannot use."""
    if current_user.is_superuser or _membership_role(project_id) is not None:
        project = db.session.get(Project, project_id)
    else:
        project = None
    if project is None:
        abort(404)
    session[SESSION_KEY] = project.id
    g.pop("mailapp_project", None)
    return project


def current_project_or_none() -> Project | None:
    return _resolve()[0]


def current_project() -> Project:
    """The project every back-office query is scoped to; 403 when the user has none."""
    project = current_project_or_none()
    if project is None:
        abort(403)
    return project


def current_role() -> Role | None:
    """The user's role in the current project (owner for superusers)."""
    return _resolve()[1]


def current_permissions() -> frozenset[Permission]:
    if not (has_request_context() and current_user.is_authenticated):
        return frozenset()
    return permissions_for(current_role())


def has_permission(permission: Permission | str | None) -> bool:
    """Whether the logged-in user holds a permission in the current project."""
    return permission is not None and permission in current_permissions()


def current_actor() -> Actor:
    """The logged-in user as an audit actor, with the client's address."""
    ip = request.remote_addr if has_request_context() else None
    if has_request_context() and current_user.is_authenticated:
        return Actor(label=current_user.email, user_id=current_user.id, ip=ip)
    return Actor(label="anonymous", ip=ip)
