"""Contacts of the current project; list pages never count the whole table."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from wtforms import Form
from wtforms.validators import DataRequired, Email

from mailapp.admin.base import ProjectModelView
from mailapp.admin.fields import strip
from mailapp.models import Contact
from mailapp.permissions import Permission


class ContactAdmin(ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE
    delete_permission = Permission.CONTACTS_DELETE
    export_permission = Permission.CONTACTS_EXPORT
    allow_export = True

    # A million rows: no COUNT(*) per page view, just next/previous.
    simple_list_pager = True
    column_list = ["email", "first_name", "last_name", "status", "source", "created_at"]
    column_searchable_list = ["email", "last_name"]
    column_filters = ["status", "source", "quarantined", "is_role_address", "created_at"]
    column_sortable_list = ["email", "last_name", "status", "created_at"]
    column_details_list = [
        "email",
        "email_raw",
        "status",
        "first_name",
        "last_name",
        "attributes",
        "timezone",
        "locale",
        "source",
        "is_role_address",
        "is_disposable",
        "quarantined",
        "soft_bounces",
        "last_sent_at",
        "last_opened_at",
        "last_clicked_at",
        "created_at",
        "updated_at",
    ]
    column_export_list = [
        "email",
        "status",
        "first_name",
        "last_name",
        "timezone",
        "locale",
        "source",
        "created_at",
    ]
    # Status follows suppression and erasure services, never a hand edit.
    form_columns = ["email", "first_name", "last_name", "timezone", "locale"]
    form_args = {"email": {"validators": [DataRequired(), Email()], "filters": [strip]}}

    def on_model_change(self, form: Form, model: Contact, is_created: bool) -> Any:
        if not (is_created or sa.inspect(model).attrs.email.history.has_changes()):
            return
        raw = model.email
        local, _, domain = raw.rpartition("@")
        model.email_raw = raw
        model.email = f"{local}@{domain.lower()}"
        if is_created and not model.source:
            model.source = "admin"
