"""Outbound webhook endpoints; the signing secret is write-only."""

from __future__ import annotations

from typing import Any

from wtforms import Form
from wtforms.validators import URL, DataRequired

from mailapp.admin.base import ProjectModelView
from mailapp.admin.fields import CommaListField, SecretField
from mailapp.models import WebhookEndpoint
from mailapp.permissions import Permission
from mailapp.services import ServiceError

MIN_SECRET_LENGTH = 16


class WebhookEndpointAdmin(ProjectModelView):
    permission = Permission.WEBHOOKS_MANAGE

    column_list = ["url", "event_types", "active", "created_at"]
    column_searchable_list = ["url"]
    column_filters = ["active"]
    column_sortable_list = ["url", "active", "created_at"]
    column_details_exclude_list = ["secret"]
    column_export_exclude_list = ["secret"]
    form_columns = ["url", "event_types", "active", "secret"]
    form_overrides = {"secret": SecretField, "event_types": CommaListField}
    form_args = {
        "url": {"validators": [DataRequired(), URL(require_tld=False)]},
        "event_types": {"description": "Comma-separated event types; empty for all."},
        "secret": {
            "description": "Signing secret shared with the receiver, never shown again. "
            "Leave empty to keep the current one."
        },
    }

    def on_model_change(self, form: Form, model: WebhookEndpoint, is_created: bool) -> Any:
        if is_created and not model.secret:
            raise ServiceError("Enter a signing secret and share it with the receiving system.")
        if form.secret.data and len(form.secret.data) < MIN_SECRET_LENGTH:
            raise ServiceError(f"The signing secret needs {MIN_SECRET_LENGTH}+ characters.")
