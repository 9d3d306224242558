"""Webhooks in the back office: outbound endpoints and their delivery history, ESP inbound
endpoints (the URL to give the provider; the key is write-only), and returned mail."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, flash, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_login import current_user
from markupsafe import Markup
from wtforms import Form
from wtforms.validators import URL, DataRequired

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.fields import CommaListField, SecretField
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.feedback.esp.endpoints import inbound_webhook_url
from mailapp.feedback.esp.intake import create_inbound_webhook
from mailapp.integrations.webhooks import EVENT_TYPES, retry_attempts, validate_url
from mailapp.models import InboundMessage, InboundWebhook, WebhookEndpoint
from mailapp.models.bounce_reason import REASON_LABELS, reason_label

MIN_SECRET_LENGTH = 16


class WebhookEndpointAdmin(ProjectModelView):
    permission = Permission.WEBHOOKS_MANAGE

    column_list = ["url", "event_types", "active", "allow_private", "created_at"]
    column_searchable_list = ["url"]
    column_filters = ["active"]
    column_sortable_list = ["url", "active", "created_at"]
    column_details_exclude_list = ["secret"]
    column_export_exclude_list = ["secret"]
    form_columns = ["url", "event_types", "active", "allow_private", "secret"]
    form_overrides = {"secret": SecretField, "event_types": CommaListField}
    form_args = {
        "url": {"validators": [DataRequired(), URL(require_tld=False)]},
        "event_types": {
            "description": f"Comma-separated, among {', '.join(EVENT_TYPES)}; empty for all."
        },
        "allow_private": {
            "description": "Operators only: allow a private, loopback or link-local target."
        },
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
        validate_url(model.url)
        unknown = set(model.event_types or []) - set(EVENT_TYPES)
        if unknown:
            raise ServiceError(f"Unknown event types: {', '.join(sorted(unknown))}.")
        changed = sa.inspect(model).attrs.allow_private.history.has_changes()
        if changed and model.allow_private and not current_user.is_superuser:
            raise ServiceError("Only an operator may allow private or loopback targets.")


class WebhookAttemptAdmin(ProjectModelView):
    """The delivery history: every event sent to each endpoint, with its last response."""

    permission = Permission.WEBHOOKS_MANAGE
    allow_create = allow_edit = allow_delete = False
    action_permissions = {"retry": Permission.WEBHOOKS_MANAGE}

    column_list = [
        "created_at",
        "endpoint_id",
        "event_type",
        "status",
        "attempts",
        "response_code",
        "next_attempt_at",
        "delivered_at",
        "error",
    ]
    column_filters = ["status", "event_type", "endpoint_id", "created_at"]
    column_sortable_list = ["created_at", "status", "attempts", "next_attempt_at"]
    column_default_sort = ("created_at", True)
    column_labels = {"endpoint_id": "Endpoint"}
    column_formatters = {"endpoint_id": lambda _v, _c, m, _n: _endpoint_url(m.endpoint_id)}

    @action("retry", "Send again", "Send the selected events again now?")
    def action_retry(self, ids: list[str]) -> None:
        count = retry_attempts(current_project().id, [int(i) for i in ids], actor=current_actor())
        flash(f"{count} events will be sent again.", "success")


def _endpoint_url(endpoint_id: int) -> str:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    return endpoint.url if endpoint else str(endpoint_id)


class InboundWebhookAdmin(ProjectModelView):
    """Where each ESP posts its events; the key or secret is write-only."""

    permission = Permission.WEBHOOKS_MANAGE
    column_list = ["provider", "url", "active", "created_at"]
    column_details_list = ["provider", "url", "active", "created_at"]
    column_filters = ["provider", "active"]
    column_formatters = {
        "url": lambda _v, _c, m, _n: Markup("<code>{}</code>").format(inbound_webhook_url(m))
    }
    column_descriptions = {"url": "Configure this URL at the provider."}
    form_columns = ["provider", "active", "secret"]
    form_overrides = {"secret": SecretField}
    form_args = {
        "secret": {
            "description": "SendGrid: the verification public key. Mailgun: the webhook signing "
            "key. Postmark: the basic-auth password or X-Webhook-Secret value. SES: optionally "
            "the SNS topic ARN allowed to post. Never shown again; leave empty to keep it."
        }
    }

    def save_new(self, form: Form, model: InboundWebhook) -> Any:
        webhook = create_inbound_webhook(
            current_project().id, model.provider, secret=model.secret, actor=current_actor()
        )
        flash(
            f"Configure this URL at {webhook.provider.value}: {inbound_webhook_url(webhook)}",
            "info",
        )
        return webhook


CLASS_LABELS = {
    "bounce_hard": "Hard bounce",
    "bounce_soft": "Soft bounce",
    "complaint": "Complaint",
    "delay": "Delayed (still trying)",
    "auto_reply": "Auto-reply",
    "unsubscribe": "Unsubscribe",
    "unknown": "Unknown",
    "not_mail": "Not an e-mail",
}


class InboundMessageAdmin(ProjectModelView):
    """Returned mail as received (read-only), with the classification it got."""

    permission = Permission.CONTACTS_READ
    allow_create = allow_edit = allow_delete = False
    column_list = [
        "received_at",
        "source",
        "classification",
        "reason",
        "status_code",
        "recipients",
        "delivery_id",
    ]
    column_details_list = [*column_list, "diagnostic", "raw"]
    column_filters = [
        "classification",
        FilterEqual(InboundMessage.reason, "Reason", options=list(REASON_LABELS.items())),
        "source",
        "received_at",
        "status_code",
    ]
    column_searchable_list = ["recipients"]
    column_sortable_list = ["received_at", "classification", "status_code"]
    column_default_sort = ("received_at", True)
    column_formatters = {
        "raw": lambda v, _c, m, _n: Markup('<a href="{}">view the raw message</a>').format(
            v.get_url(".raw_view", id=m.id)
        ),
        "reason": lambda _v, _c, m, _n: reason_label(m.reason) if m.reason else "",
        "classification": lambda _v, _c, m, _n: CLASS_LABELS.get(
            m.classification, m.classification
        ),
    }
    endpoint_permissions = {"raw_view": Permission.CONTACTS_READ}

    @expose("/raw/")
    def raw_view(self) -> Response:
        message = self.get_one(request.args.get("id"))
        return Response(
            message.raw,
            mimetype="text/plain",
            headers={"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"},
        )


class ProviderEventAdmin(ProjectModelView):
    """ESP events as received (read-only): the raw payload and what it was normalized to."""

    permission = Permission.WEBHOOKS_MANAGE
    allow_create = allow_edit = allow_delete = False
    column_list = ["received_at", "provider", "provider_event_id", "normalized_type"]
    column_details_list = [*column_list, "raw"]
    column_filters = ["provider", "normalized_type", "received_at"]
    column_searchable_list = ["provider_event_id"]
    column_sortable_list = ["received_at", "provider", "normalized_type"]
    column_default_sort = ("received_at", True)
