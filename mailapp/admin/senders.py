"""Sending identities; the DKIM key is write-only. Transports: mailapp/admin/transports.py,
summed up with their health on the sender's page."""

from __future__ import annotations

from typing import Any

from flask import url_for
from markupsafe import Markup
from wtforms.validators import DataRequired, Email, Optional, ValidationError

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_project
from mailapp.admin.fields import SecretField, SecretTextField
from mailapp.delivery.sender_setup import HOSTNAME, tracking_at_apex
from mailapp.delivery.transport_status import transport_rows
from mailapp.models import Sender

SECRETS = ["dkim_private_key", "transport_url"]


def _lower(value: str | None) -> str | None:
    return value.strip().lower().rstrip(".") or None if value else None


def _tracking_host(form: Any, field: Any) -> None:
    """A host name, under the sending domain's own name rather than at it."""
    if not HOSTNAME.match(field.data or ""):
        raise ValidationError("a host name such as links.example.com")
    if field.data == (form.domain.data or "").strip().lower():
        raise ValidationError(tracking_at_apex(field.data))


class SenderAdmin(ProjectModelView):
    permission = Permission.SENDERS_MANAGE

    column_list = ["name", "from_name", "from_email", "domain", "dkim_selector", "warmup_plan"]
    column_list += ["transports", "created_at"]
    column_labels = {
        "warmup_plan": "Warm-up",
        "name": "Name (for your team)",
        "from_name": "From name",
        "from_email": "From address",
        "reply_to": "Reply-to address",
        "domain": "Sending domain (DKIM signs for it)",
        "bounce_domain": "Bounce domain (Return-Path)",
        "dkim_selector": "DKIM selector",
        "dkim_private_key": "DKIM private key",
        "rate_per_second": "At most per second",
        "rate_per_hour": "At most per hour",
        "rate_per_day": "At most per day",
    }
    column_formatters = {
        "transports": lambda _v, _c, model, _n: _transports_link(model),
        "warmup_plan": lambda _v, _c, model, _n: _warmup_link(model),
        "domain": lambda _v, _c, model, _n: _domain_link(model),
    }
    column_searchable_list = ["name", "from_email", "domain"]
    column_sortable_list = ["name", "from_email", "domain", "created_at"]
    column_details_exclude_list = SECRETS
    column_export_exclude_list = SECRETS
    form_columns = [
        "name",
        "from_name",
        "from_email",
        "reply_to",
        "domain",
        "bounce_domain",
        "tracking_domain",
        "dkim_selector",
        "dkim_private_key",
        "rate_per_second",
        "rate_per_hour",
        "rate_per_day",
        "transport_url",
    ]
    form_overrides = {"dkim_private_key": SecretTextField, "transport_url": SecretField}
    form_args = {
        "from_email": {"validators": [DataRequired(), Email()]},
        "reply_to": {"validators": [Optional(), Email()]},
        "dkim_private_key": {
            "description": "PEM private key. Stored encrypted, never shown again; "
            "leave empty to keep the current key."
        },
        "tracking_domain": {
            "label": "Tracking domain",
            "description": "Optional, e.g. links.example.com: links, the open pixel and the "
            "unsubscribe page use this host name instead of ours. Publish the CNAME record the "
            "domain set-up page shows, and serve HTTPS for it.",
            "validators": [Optional(), _tracking_host],
            "filters": [_lower],
        },
        "transport_url": {
            "label": "Single transport (old)",
            "description": "Used only while this sender has no transports in the Transports "
            "section below (several, with failover). Stored encrypted; leave empty to keep it.",
        },
    }
    form_widget_args = {"dkim_private_key": {"rows": 6}}
    # The edit page ends with the sender's transports and their health.
    edit_template = "admin/sender_edit.html"

    def render(self, template: str, **kwargs: Any) -> str:
        if template == self.edit_template and kwargs.get("model") is not None:
            kwargs["transport_rows"] = transport_rows(current_project(), kwargs["model"])
        return super().render(template, **kwargs)


def _transports_link(sender: Sender) -> Markup:
    """How many transports the sender has, linked to the page that manages them."""
    count = sum(1 for t in sender.transports if t.enabled)
    text = f"{count} switched on" if sender.transports else "server's relay"
    href = url_for("transports.sender", sender_id=sender.id)
    return Markup('<a href="{}">{}</a>').format(href, text)


def _warmup_link(sender: Sender) -> Markup:
    """The sender's warm-up in a few words, linked to the page that sets it."""
    caps = (sender.warmup_plan or {}).get("daily_caps") or []
    text = f"{len(caps)} days from {sender.warmup_plan['start']}" if caps else "none"
    href = url_for("warmup.edit", sender_id=sender.id)
    return Markup('<a href="{}">{}</a>').format(href, text)


def _domain_link(sender: Sender) -> Markup:
    """The sender's domain, linked to its DNS set-up page with the last check's result."""
    worst = (sender.verification or {}).get("worst")
    note = {"ok": "", "warning": " (check DNS)", "error": " (DNS to fix)"}.get(
        worst, " (not checked)"
    )
    href = url_for("domains.sender", sender_id=sender.id)
    return Markup('<a href="{}">{}</a>{}').format(href, sender.domain, note)
