"""The inbound webhook endpoints a project sets up, one per ESP account that posts to it.

Created in `intake.create_inbound_webhook`; here they are read, changed and removed. The key
or secret a provider signs with is write-only: it can be replaced, never read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import current_app

from mailapp.access.audit import Actor
from mailapp.access.records import delete_record, update_record
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import EspProvider, InboundWebhook

EDITABLE = ("provider", "active", "secret")


def inbound_webhook_url(webhook: InboundWebhook) -> str:
    """The URL to configure at the provider."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/webhooks/{webhook.provider.value}/{webhook.token}"


def project_inbound_webhooks(project_id: int) -> list[InboundWebhook]:
    """The project's endpoints, oldest first."""
    return list(
        db.session.scalars(
            sa.select(InboundWebhook)
            .where(InboundWebhook.project_id == project_id)
            .order_by(InboundWebhook.id)
        )
    )


def get_project_inbound_webhook(project_id: int, webhook_id: int) -> InboundWebhook:
    found = db.session.scalar(
        sa.select(InboundWebhook).where(
            InboundWebhook.project_id == project_id, InboundWebhook.id == webhook_id
        )
    )
    if found is None:
        raise NotFound("no such inbound webhook")
    return found


def update_inbound_webhook(
    project_id: int, webhook_id: int, values: Mapping[str, Any], *, actor: Actor
) -> InboundWebhook:
    """Change an endpoint's provider, state or secret (the keys given; the URL stays).

    A secret that is not given is kept; null clears it, which only SES (no key) allows."""
    webhook = get_project_inbound_webhook(project_id, webhook_id)
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise ServiceError(f"an inbound webhook has no field {', '.join(unknown)}")
    if "provider" in values:
        webhook.provider = EspProvider(values["provider"])
    if "active" in values:
        webhook.active = bool(values["active"])
    if "secret" in values:
        webhook.secret = values["secret"] or None
    if webhook.provider != EspProvider.SES and not webhook.secret:
        raise ServiceError(f"{webhook.provider.value} webhooks need the provider's key or secret")
    update_record(webhook, project_id=project_id, actor=actor)
    return webhook


def delete_inbound_webhook(project_id: int, webhook_id: int, *, actor: Actor) -> None:
    """Remove an endpoint: the provider's posts to its URL answer 404 from now on."""
    webhook = get_project_inbound_webhook(project_id, webhook_id)
    delete_record(webhook, project_id=project_id, actor=actor)
