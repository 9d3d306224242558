"""API keys of the current project: created with scopes and expiry (shown once), revoked."""

from __future__ import annotations

from typing import Any

from flask import flash, g
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.actions import action
from flask_wtf import FlaskForm
from wtforms import Form, IntegerField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange, Optional

from mailapp.access.apikeys import MAX_EXPIRY_DAYS, create_api_key, revoke_api_key
from mailapp.access.permissions import DESCRIPTIONS, Permission
from mailapp.admin.base import ProjectModelView, int_ids
from mailapp.admin.context import current_actor, current_permissions, current_project
from mailapp.errors import ServiceError
from mailapp.extensions import db


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired()], description="Who or what uses it")
    scopes = SelectMultipleField(
        "Scopes",
        choices=[SelectChoice(p.value, f"{p.value} — {DESCRIPTIONS[p]}") for p in Permission],
        validators=[DataRequired()],
    )
    expires_in_days = IntegerField(
        "Expires after (days)",
        validators=[Optional(), NumberRange(min=1, max=MAX_EXPIRY_DAYS)],
        description="Empty: never expires",
    )


class ApiKeyAdmin(ProjectModelView):
    permission = Permission.APIKEYS_MANAGE
    action_permissions = {"revoke": Permission.APIKEYS_MANAGE}
    # Keys are never edited or deleted: revoking keeps their history in the audit log.
    allow_edit = False
    allow_delete = False

    column_list = ["name", "prefix", "scopes", "expires_at", "revoked_at", "last_used_at"]
    column_searchable_list = ["name", "prefix"]
    column_filters = ["revoked_at", "expires_at", "last_used_at"]
    column_sortable_list = ["name", "expires_at", "last_used_at", "created_at"]
    column_details_exclude_list = ["key_hash", "project"]
    column_labels = {"prefix": "Key starts with"}
    column_formatters = {"scopes": lambda _v, _c, m, _n: ", ".join(m.scopes or [])}

    def get_create_form(self) -> type[Form]:
        return ApiKeyForm

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> ResponseReturnValue:
        response = super().create_view()
        return self.show_secret_once(
            response,
            g.pop("new_api_key", None),
            title="API key created",
            explanation="Send it as 'Authorization: Bearer <key>'. Copy it now:",
        )

    def create_model(self, form: Form) -> Any:
        try:
            api_key, key = create_api_key(
                current_project().id,
                form.name.data,
                form.scopes.data,
                expires_in_days=form.expires_in_days.data,
                actor=current_actor(),
                grantable=current_permissions(),
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        g.new_api_key = key
        return api_key

    @action("revoke", "Revoke", "Revoke the selected keys? Clients using them stop working.")
    def action_revoke(self, ids: list[str]) -> None:
        revoked = 0
        for key_id in int_ids(ids):
            try:
                revoke_api_key(current_project().id, key_id, actor=current_actor())
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                revoked += 1
        if revoked:
            flash(f"{revoked} key(s) revoked.", "success")
