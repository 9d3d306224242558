"""Who may open a back-office page: login, a current project and the view's permission.

A refusal is a 403 that names the missing permission (the error page says which roles have it)
and is remembered in the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import Forbidden

from mailapp.access.audit import record_refusal
from mailapp.access.permissions import Permission
from mailapp.admin.context import (
    current_actor,
    current_project_or_none,
    has_permission,
)


class AccessMixin:
    """Login, a current project and the view's permission, checked before every request."""

    permission: ClassVar[Permission | None] = None
    # View methods only operators (superusers) may use, whatever their role says.
    superuser_only: ClassVar[frozenset[str]] = frozenset()

    def permission_for(self, name: str) -> Permission | None:
        """The permission a view method needs; None (refused to everyone) when unmapped."""
        return self.permission

    def is_accessible(self) -> bool:
        return (
            current_user.is_authenticated
            and current_project_or_none() is not None
            and has_permission(self.permission)
        )

    def inaccessible_callback(self, name: str, **kwargs: Any) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        return refuse(self.permission_for(name))

    def _handle_view(self, name: str, **kwargs: Any) -> ResponseReturnValue | None:
        if not self.is_accessible():
            return self.inaccessible_callback(name, **kwargs)
        needed = self.permission_for(name)
        if not has_permission(needed):
            return refuse(needed)
        if name in self.superuser_only and not current_user.is_superuser:
            return refuse(needed, reason="superuser only")
        return None


class Refused(Forbidden):
    """A 403 that knows what was missing, so the error page can name it."""

    def __init__(self, permission: Permission | None, reason: str | None = None) -> None:
        super().__init__()
        self.permission = permission
        self.reason = reason


def refuse(permission: Permission | None, **context: Any) -> ResponseReturnValue:
    """403 for a forbidden page or action, remembered in the audit log."""
    project = current_project_or_none()
    record_refusal(
        current_actor(),
        "admin.forbidden",
        project_id=project.id if project else None,
        context={
            "endpoint": request.endpoint,
            "method": request.method,
            "path": request.path,
            "permission": permission.value if permission else None,
            **context,
        },
    )
    raise Refused(permission, reason=context.get("reason"))
