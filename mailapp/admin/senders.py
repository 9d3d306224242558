"""Sending identities; the DKIM key and the transport URL are write-only."""

from __future__ import annotations

from typing import Any

from flask import url_for
from markupsafe import Markup
from wtforms.validators import DataRequired, Email, Optional, ValidationError

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.fields import SecretField, SecretTextField
from mailapp.delivery.sender_setup import HOSTNAME, tracking_at_apex
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
    column_list += ["created_at"]
    column_labels = {"warmup_plan": "Warm-up"}
    column_formatters = {
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
            "description": "smtp://user:password@host:587?starttls=1 — stored encrypted; "
            "leave empty to keep the current one (or use SMTP_URL)."
        },
    }
    form_widget_args = {"dkim_private_key": {"rows": 6}}


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
