"""A read-only page showing the permission table every check in the back office uses."""

from __future__ import annotations

from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import DESCRIPTIONS, ROLE_PERMISSIONS, Permission
from mailapp.admin.base import ProjectView
from mailapp.models import Role


class RolesView(ProjectView):
    permission = Permission.USERS_MANAGE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        return self.render(
            "admin/roles.html",
            roles=list(Role),
            permissions=list(Permission),
            table=ROLE_PERMISSIONS,
            descriptions=DESCRIPTIONS,
        )
