"""Segments of the current project: a rule builder with a live count and plain description."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, jsonify, request
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup
from wtforms import Form

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor, current_project
from mailapp.audience.segments import descriptions, store
from mailapp.errors import ServiceError
from mailapp.models import Segment
from mailapp.models.base import utcnow


def _description(model: Segment) -> str:
    try:
        return descriptions.describe_rule(model.project_id, model.rule)
    except ServiceError as exc:
        return f"(invalid rule: {exc})"


class SegmentAdmin(ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE
    action_permissions = {"recount": Permission.CONTACTS_READ, "freeze": Permission.CONTACTS_WRITE}
    endpoint_permissions = {"preview": Permission.CONTACTS_READ}

    column_list = ["name", "rule", "last_count", "last_counted_at", "created_at"]
    column_labels = {"rule": "Who"}
    column_formatters = {"rule": lambda *args: Markup.escape(_description(args[2]))}
    column_searchable_list = ["name"]
    column_sortable_list = ["name", "last_count", "created_at"]
    form_columns = ["name", "description", "rule"]
    form_widget_args = {"rule": {"rows": 8, "id": "rule"}}
    create_template = "admin/segment_edit.html"
    edit_template = "admin/segment_edit.html"

    @expose("/preview", methods=("GET", "POST"))
    def preview(self) -> Response:
        """The live count and description of the rule being edited (JSON body or ?rule=)."""
        try:
            rule = (request.get_json(silent=True) or {}).get("rule") or json.loads(
                request.args.get("rule", "null")
            )
        except ValueError:
            return jsonify({"error": "the rule is not valid JSON"})
        project_id = current_project().id
        try:
            return jsonify(
                {
                    "count": store.count_rule(project_id, rule),
                    "description": descriptions.describe_rule(project_id, rule),
                }
            )
        except ServiceError as exc:
            return jsonify({"error": str(exc)})

    @action("recount", "Count now (who entered, who left)")
    def action_recount(self, ids: list[str]) -> None:
        for segment_id in ids:
            try:
                result = store.recount_segment(
                    current_project().id, int(segment_id), actor=current_actor()
                )
            except ServiceError as exc:
                flash(str(exc), "error")
                continue
            flash(
                f"{result.count:,} contacts: {result.entered:,} entered, "
                f"{result.left:,} left since the last count.",
                "success",
            )

    @action("freeze", "Freeze into a static list")
    def action_freeze(self, ids: list[str]) -> None:
        for segment_id in ids:
            try:
                segment = store.get_segment(current_project().id, int(segment_id))
                snapshot = store.freeze_segment(
                    current_project().id,
                    segment.id,
                    f"{segment.name} ({utcnow():%Y-%m-%d %H:%M})",
                    actor=current_actor(),
                )
            except ServiceError as exc:
                flash(str(exc), "error")
                continue
            flash(f"List “{snapshot.name}” created.", "success")

    def save_new(self, form: Form, model: Segment) -> Any:
        return store.save_segment(
            current_project().id,
            form.name.data,
            form.rule.data,
            description=form.description.data,
            actor=current_actor(),
        )

    def save_changes(self, form: Form, model: Segment) -> Any:
        return store.save_segment(
            current_project().id,
            form.name.data,
            form.rule.data,
            description=form.description.data,
            segment_id=model.id,
            actor=current_actor(),
        )
