"""Inbound webhooks API: the endpoints ESPs post their events to, as the back office sets up.

Each answer gives the URL to configure at the provider. The provider's key or secret is
write-only, as in the back office: it can be set and replaced, never read back (`has_secret`).
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.feedback.esp.endpoints import (
    delete_inbound_webhook,
    get_project_inbound_webhook,
    inbound_webhook_url,
    project_inbound_webhooks,
    update_inbound_webhook,
)
from mailapp.feedback.esp.intake import create_inbound_webhook
from mailapp.models import EspProvider, InboundWebhook
from mailapp.web.api import ERROR, bp, document, require

PROVIDER = {
    "type": "string",
    "enum": [p.value for p in EspProvider],
    "description": "ses (Amazon SES via SNS), sendgrid, mailgun or postmark",
}
SECRET = {
    "type": ["string", "null"],
    "minLength": 1,
    "writeOnly": True,
    "description": "SendGrid: the verification public key. Mailgun: the webhook signing key. "
    "Postmark: the basic-auth password or X-Webhook-Secret value. SES: optionally the SNS "
    "topic ARN allowed to post. Needed except for SES; stored encrypted, never shown again. "
    "Left out of a change, it is kept.",
}
WEBHOOK_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "provider": PROVIDER,
        "active": {"type": "boolean", "description": "false: posts are refused (404)"},
        "secret": SECRET,
    },
}
WEBHOOK_CREATE = {
    **WEBHOOK_IN,
    "required": ["provider"],
    "properties": {"provider": PROVIDER, "secret": SECRET},
}
WEBHOOK_OUT = {
    "type": "object",
    "required": ["id", "provider", "active", "url", "has_secret", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "provider": PROVIDER,
        "active": {"type": "boolean"},
        "url": {
            "type": "string",
            "format": "uri",
            "description": "configure this URL at the provider; it holds an unguessable token",
        },
        "has_secret": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


def webhook_json(webhook: InboundWebhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "provider": webhook.provider.value,
        "active": webhook.active,
        "url": inbound_webhook_url(webhook),
        "has_secret": bool(webhook.secret),
        "created_at": webhook.created_at.isoformat(),
    }


@bp.get("/inbound-webhooks")
@document(
    "The endpoints ESPs post their events to",
    responses={200: {"type": "array", "items": WEBHOOK_OUT}},
    tags=["inbound webhooks"],
)
@require(Permission.WEBHOOKS_MANAGE)
def inbound_list() -> Response:
    return jsonify([webhook_json(w) for w in project_inbound_webhooks(g.project.id)])


@bp.post("/inbound-webhooks")
@document(
    "Add an endpoint for an ESP",
    description="Answers the URL to configure at the provider. Events it posts are checked "
    "against the secret (SES: the SNS signature), kept, deduplicated and applied: hard "
    "bounces and complaints suppress the address.",
    request=WEBHOOK_CREATE,
    responses={201: WEBHOOK_OUT},
    tags=["inbound webhooks"],
)
@require(Permission.WEBHOOKS_MANAGE)
def inbound_create() -> tuple[Response, int]:
    webhook = create_inbound_webhook(
        g.project.id, g.body["provider"], secret=g.body.get("secret"), actor=g.actor
    )
    return jsonify(webhook_json(webhook)), 201


@bp.get("/inbound-webhooks/<int:webhook_id>")
@document(
    "An inbound endpoint", responses={200: WEBHOOK_OUT, 404: ERROR}, tags=["inbound webhooks"]
)
@require(Permission.WEBHOOKS_MANAGE)
def inbound_show(webhook_id: int) -> Response:
    return jsonify(webhook_json(get_project_inbound_webhook(g.project.id, webhook_id)))


@bp.patch("/inbound-webhooks/<int:webhook_id>")
@document(
    "Change an endpoint's provider, state or secret",
    description="Only the keys sent change; the URL's token stays. Audited with the names of "
    "the fields changed, never their values.",
    request=WEBHOOK_IN,
    responses={200: WEBHOOK_OUT, 404: ERROR},
    tags=["inbound webhooks"],
)
@require(Permission.WEBHOOKS_MANAGE)
def inbound_update(webhook_id: int) -> Response:
    webhook = update_inbound_webhook(g.project.id, webhook_id, g.body, actor=g.actor)
    return jsonify(webhook_json(webhook))


@bp.delete("/inbound-webhooks/<int:webhook_id>")
@document(
    "Remove an endpoint: the provider's posts to its URL answer 404 from now on",
    responses={204: None, 404: ERROR},
    tags=["inbound webhooks"],
)
@require(Permission.WEBHOOKS_MANAGE)
def inbound_delete(webhook_id: int) -> tuple[str, int]:
    delete_inbound_webhook(g.project.id, webhook_id, actor=g.actor)
    return "", 204
