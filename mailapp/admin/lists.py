"""Mailing lists of the current project (membership counts live on the list's own page)."""

from __future__ import annotations

import secrets
from typing import Any

from wtforms import Form

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.models import List


class ListAdmin(ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE

    column_list = ["name", "opt_in", "is_public", "created_at"]
    column_searchable_list = ["name"]
    column_filters = ["opt_in", "is_public"]
    column_sortable_list = ["name", "created_at"]
    column_details_exclude_list = ["token"]
    form_columns = ["name", "description", "opt_in", "is_public", "consent_text", "consent_version"]

    def on_model_change(self, form: Form, model: List, is_created: bool) -> Any:
        if is_created:
            model.token = secrets.token_urlsafe(16)
