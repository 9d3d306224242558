"""Segments of the current project: a rule builder with a live count and plain description."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, jsonify, request, session
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup, escape
from wtforms import Form

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.display import format_when
from mailapp.audience.segments import choices, descriptions, fields, store
from mailapp.errors import ServiceError
from mailapp.models import Segment
from mailapp.models.base import utcnow

EDIT_TEMPLATE = "admin/segment_edit.html"


def _description(model: Segment) -> str:
    try:
        return descriptions.describe_rule(model.project_id, model.rule)
    except ServiceError as exc:
        return f"(this rule needs fixing: {exc})"


def _name(view: Any, context: Any, model: Segment, name: str) -> Markup:
    if not model.description:
        return escape(model.name)
    note = Markup('<br><small class="text-muted">{}</small>')
    return escape(model.name) + note.format(model.description)


NOT_COUNTED = Markup('<span class="text-muted">not counted yet: select it, then “Count now”</span>')
COUNTED = Markup(
    '<strong class="segment-count">{count}</strong> {noun}<br>'
    '<small class="text-muted">counted {when}</small>'
)


def _count(view: Any, context: Any, model: Segment, name: str) -> Markup:
    if model.last_count is None:
        return NOT_COUNTED
    return COUNTED.format(
        count=f"{model.last_count:,}",
        noun="contact" if model.last_count == 1 else "contacts",
        when=format_when(model.last_counted_at),
    )


GENERIC_SAVED = frozenset({"Record was successfully created.", "Record was successfully saved."})


class SegmentAdmin(ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE
    action_permissions = {"recount": Permission.CONTACTS_READ, "freeze": Permission.CONTACTS_WRITE}
    endpoint_permissions = {"preview": Permission.CONTACTS_READ}

    column_list = ["name", "rule", "last_count", "created_at"]
    column_labels = {"rule": "Who", "last_count": "Contacts", "description": "Note"}
    column_formatters = {
        "name": _name,
        "rule": lambda *args: escape(_description(args[2])),
        "last_count": _count,
        "created_at": lambda *args: format_when(args[2].created_at),
    }
    column_details_list = ["name", "description", "rule", "last_count", "created_at"]
    column_formatters_detail = {
        **column_formatters,
        "name": lambda *args: args[2].name,
        "rule": lambda *args: escape(_description(args[2])),
    }
    column_searchable_list = ["name"]
    column_sortable_list = ["name", "last_count", "created_at"]
    column_descriptions = {"last_count": "As of the last count: saving a segment counts it."}
    form_columns = ["name", "description", "rule"]
    form_widget_args = {"rule": {"rows": 10, "id": "rule", "required": False}}
    form_args = {
        "description": {"description": "A note for your team; not shown to contacts."},
        "rule": {"label": "Rule (JSON)"},
    }
    create_template = EDIT_TEMPLATE
    edit_template = EDIT_TEMPLATE

    def render(self, template: str, **kwargs: Any) -> str:
        if template == EDIT_TEMPLATE:
            project_id = current_project().id
            kwargs["builder"] = {**fields.catalogue(), **choices.builder_choices(project_id)}
        return super().render(template, **kwargs)

    @expose("/preview", methods=("GET", "POST"))
    def preview(self) -> Response | tuple[Response, int]:
        """The live count and description of the rule being edited (JSON body or ?rule=)."""
        try:
            body = (
                request.get_json(silent=True)
                if request.method == "POST"
                else {"rule": json.loads(request.args.get("rule", "null"))}
            )
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return jsonify({"error": 'Send the rule as JSON: {"rule": ...}.'}), 400
        rule, project_id = body.get("rule"), current_project().id
        try:
            description = descriptions.describe_rule(project_id, rule)
            count = store.count_rule(project_id, rule)
        except ServiceError as exc:
            return jsonify({"error": str(exc)})
        return jsonify(
            {
                "count": count,
                "description": description,
                "summary": descriptions.describe_count(count, description),
            }
        )

    def after_model_change(self, form: Form, model: Segment, is_created: bool) -> None:
        words = descriptions.describe_count(model.last_count or 0, _description(model))
        flash(f"“{model.name}” saved: {words}.", "success")

    def get_save_return_url(self, model: Segment, is_created: bool = False) -> str:
        # Flask-Admin adds its "Record was successfully created/saved." after ours, which
        # already says what was saved and how many it holds: keep ours alone.
        session["_flashes"] = [
            (category, message)
            for category, message in session.get("_flashes", [])
            if message not in GENERIC_SAVED
        ]
        return super().get_save_return_url(model, is_created)

    @action("recount", "Count now (who entered, who left)")
    def action_recount(self, ids: list[str]) -> None:
        for segment_id in ids:
            try:
                result = store.recount_segment(
                    current_project().id, int(segment_id), actor=current_actor()
                )
            except (ServiceError, ValueError) as exc:
                flash(str(exc), "error")
                continue
            flash(
                f"{result.count:,} contacts: {result.entered:,} entered, "
                f"{result.left:,} left since the last “Count now”.",
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
            except (ServiceError, ValueError) as exc:
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

    def remove(self, model: Segment) -> None:
        """Refused while an open campaign targets it."""
        store.delete_segment(current_project().id, model.id, actor=current_actor())
