"""The current project's suppression list: added and lifted only through its service."""

from __future__ import annotations

import io
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from wtforms import Form
from wtforms.validators import DataRequired, Email

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.fields import strip
from mailapp.audience.suppression import import_suppressions, suppress, unsuppress
from mailapp.models import Suppression, SuppressionReason


class SuppressionImportMixin:
    """Bulk import of a CSV of addresses (a column named email, else the first column)."""

    @expose("/import", methods=("GET", "POST"))
    def import_csv(self) -> ResponseReturnValue:
        if request.method == "POST":
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                flash("Choose a CSV file.", "error")
            else:
                text = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", errors="replace")
                result = import_suppressions(
                    current_project().id,
                    text,
                    actor=current_actor(),
                    source=f"csv: {upload.filename}"[:200],
                )
                flash(
                    f"{result.added:,} added, {result.already:,} were suppressed already, "
                    f"{len(result.invalid):,} invalid"
                    + (
                        f" (lines {', '.join(str(n) for n, _ in result.invalid[:20])})"
                        if result.invalid
                        else ""
                    ),
                    "success",
                )
                return redirect(url_for(".index_view"))
        return self.render("admin/suppression_import.html")


class SuppressionAdmin(SuppressionImportMixin, ProjectModelView):
    permission = Permission.CONTACTS_READ
    allow_edit = False
    # Support adds entries (suppression.manage); lifting one mails the person again, so it
    # needs contacts.delete, like the API.
    create_permission = Permission.SUPPRESSION_MANAGE
    write_permission = Permission.CONTACTS_DELETE
    endpoint_permissions = {"import_csv": Permission.SUPPRESSION_MANAGE}
    list_template = "admin/suppression_list.html"

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
