"""The current project's audit log: read-only, filterable, never edited or deleted."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask_login import current_user
from markupsafe import Markup, escape

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.models import AuditLog


def _context(view: object, context: object, model: object, name: str) -> Markup:
    value = getattr(model, name) or {}
    return Markup("<code>{}</code>").format(escape(json.dumps(value, sort_keys=True)))


class AuditLogAdmin(ProjectModelView):
    permission = Permission.AUDIT_READ
    allow_create = False
    allow_edit = False
    allow_delete = False
    action_disallowed_list = ["delete"]

    simple_list_pager = True
    column_default_sort = [("created_at", True), ("id", True)]
    column_list = ["created_at", "actor", "action", "object_type", "object_id", "ip", "context"]
    column_searchable_list = ["action", "actor", "object_id"]
    column_filters = ["action", "actor", "object_type", "object_id", "created_at", "ip"]
    column_sortable_list = ["created_at", "action", "actor"]
    column_formatters = {"context": _context}
    column_details_exclude_list = ["project"]

    def scope_filter(self) -> Any:
        """Operators also see installation-wide entries (logins locked, passwords changed)."""
        if current_user.is_superuser:
            return sa.or_(super().scope_filter(), AuditLog.project_id.is_(None))
        return super().scope_filter()
