"""The current project's suppression list: added and lifted only through its service."""

from __future__ import annotations

from typing import Any

from wtforms import Form
from wtforms.validators import DataRequired, Email

from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.fields import strip
from mailapp.models import Suppression, SuppressionReason
from mailapp.permissions import Permission
from mailapp.services.suppression import suppress, unsuppress


class SuppressionAdmin(ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE
    allow_edit = False

    simple_list_pager = True
    column_list = ["email", "reason", "source", "created_at"]
    column_searchable_list = ["email"]
    column_filters = ["reason", "source", "created_at"]
    column_sortable_list = ["email", "reason", "created_at"]
    column_details_list = ["email", "email_hash", "reason", "source", "note", "created_at"]
    form_columns = ["email", "note"]
    form_args = {"email": {"validators": [DataRequired(), Email()], "filters": [strip]}}

    def save_new(self, form: Form, model: Suppression) -> Any:
        return suppress(
            current_project().id,
            form.email.data,
            SuppressionReason.MANUAL,
            actor=current_actor(),
            source="admin",
            note=form.note.data or None,
        )

    def remove(self, model: Suppression) -> None:
        unsuppress(current_project().id, model.id, actor=current_actor())
