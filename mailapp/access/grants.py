"""Whether an audit actor (a user, an API key, the system) holds a permission in a project.

Entry points check permissions before they call the domain; the few rules the domain must
enforce whoever calls it (publishing a template) ask here.
"""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.access.permissions import Permission, role_has
from mailapp.extensions import db
from mailapp.models import ApiKey, Membership, User


def actor_has(project_id: int, actor: Actor, permission: Permission) -> bool:
    """A user by their role in the project (superusers: always), a key by its scopes;
    the system itself (CLI, workers, seeds) acts with every permission."""
    if actor.user_id is not None:
        if db.session.scalar(sa.select(User.is_superuser).where(User.id == actor.user_id)):
            return True
        role = db.session.scalar(
            sa.select(Membership.role).where(
                Membership.user_id == actor.user_id, Membership.project_id == project_id
            )
        )
        return role_has(role, permission)
    if actor.api_key_id is not None:
        scopes = db.session.scalar(
            sa.select(ApiKey.scopes).where(
                ApiKey.id == actor.api_key_id, ApiKey.project_id == project_id
            )
        )
        return permission.value in (scopes or [])
    return True
