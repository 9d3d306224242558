"""Senders API: sending identities and their DKIM keys (DNS set-up: domains.py; warm-up:
settings.py).

The DKIM private key and the transport URL can be sent, never read back: answers say only
whether one is set.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.delivery.sender_setup import (
    create_sender,
    delete_sender,
    project_senders,
    update_sender,
)
from mailapp.delivery.senders import (
    dkim_dns_record,
    dkim_record_name,
    dkim_txt_strings,
    generate_sender_key,
    get_sender,
)
from mailapp.models import Sender
from mailapp.web.api import ERROR, api_error, bp, document, require

NULLABLE_TEXT = {"type": ["string", "null"]}
RATE = {"type": ["integer", "null"], "minimum": 1}
SENDER_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "description": "what the team calls it"},
    "from_name": {"type": "string", "minLength": 1},
    "from_email": {"type": "string", "format": "email"},
    "reply_to": {"type": ["string", "null"], "format": "email"},
    "domain": {
        "type": ["string", "null"],
        "description": "the domain DKIM signs for; defaults to the From address's domain",
    },
    "bounce_domain": {
        "type": ["string", "null"],
        "description": "the Return-Path domain (bounces+<token>@<bounce_domain>)",
    },
    "tracking_domain": {
        "type": ["string", "null"],
        "description": "host name for links, the open pixel and unsubscribe pages, e.g. "
        "links.example.com (a CNAME to us); null = BASE_URL's",
    },
    "dkim_selector": NULLABLE_TEXT,
    "rate_per_second": RATE,
    "rate_per_hour": RATE,
    "rate_per_day": RATE,
}
SENDER_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **SENDER_FIELDS,
        "dkim_private_key": {
            "type": ["string", "null"],
            "description": "an unencrypted PEM private key; stored encrypted, never shown. "
            "Or let the server make one: POST /senders/{id}/dkim",
            "writeOnly": True,
        },
        "transport_url": {
            "type": ["string", "null"],
            "description": "smtp://user:password@host:587?starttls=1; stored encrypted, never "
            "shown; used only while the sender has no transports (/senders/{id}/transports, "
            "several with weights and failover); null: the server's SMTP_URL",
            "writeOnly": True,
        },
    },
}
SENDER_CREATE = {**SENDER_IN, "required": ["name", "from_name", "from_email"]}
SENDER_OUT = {
    "type": "object",
    "required": ["id", "name", "from_email", "domain", "has_dkim_key", "has_transport"],
    "properties": {
        "id": {"type": "integer"},
        **SENDER_FIELDS,
        "domain": {"type": "string"},
        "has_dkim_key": {"type": "boolean"},
        "has_transport": {
            "type": "boolean",
            "description": "false: mail goes via SMTP_URL; the list: /senders/{id}/transports",
        },
        "warmup_plan": {"type": "object"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
DKIM_OUT = {
    "type": "object",
    "required": ["selector", "name", "value", "strings"],
    "properties": {
        "selector": {"type": "string"},
        "name": {"type": "string", "description": "the DNS name of the TXT record"},
        "value": {"type": "string", "description": "the TXT record's value"},
        "strings": {
            "type": "array",
            "items": {"type": "string", "maxLength": 255},
            "description": "the value cut into the 255-character strings of one TXT record",
        },
    },
}


def sender_json(sender: Sender) -> dict[str, Any]:
    return {
        "id": sender.id,
        "name": sender.name,
        "from_name": sender.from_name,
        "from_email": sender.from_email,
        "reply_to": sender.reply_to,
        "domain": sender.domain,
        "bounce_domain": sender.bounce_domain,
        "tracking_domain": sender.tracking_domain,
        "dkim_selector": sender.dkim_selector,
        "rate_per_second": sender.rate_per_second,
        "rate_per_hour": sender.rate_per_hour,
        "rate_per_day": sender.rate_per_day,
        "has_dkim_key": bool(sender.dkim_private_key),
        "has_transport": bool(sender.transport_url or sender.transports),
        "warmup_plan": sender.warmup_plan or {},
        "created_at": sender.created_at.isoformat(),
    }


def dkim_json(sender: Sender) -> dict[str, Any]:
    record = dkim_dns_record(sender.dkim_private_key)
    return {
        "selector": sender.dkim_selector,
        "name": dkim_record_name(sender),
        "value": record,
        "strings": dkim_txt_strings(record),
    }


@bp.get("/senders")
@document(
    "The project's senders",
    responses={200: {"type": "array", "items": SENDER_OUT}},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def senders_list() -> Response:
    return jsonify([sender_json(s) for s in project_senders(g.project)])


@bp.post("/senders")
@document(
    "Add a sender",
    description="Every field is checked; a wrong one answers 422 naming it, and nothing is "
    "saved. Publish the DKIM record (GET /senders/{id}/dkim) before sending.",
    request=SENDER_CREATE,
    responses={201: SENDER_OUT},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def senders_create() -> tuple[Response, int]:
    return jsonify(sender_json(create_sender(g.project, g.body, actor=g.actor))), 201


@bp.get("/senders/<int:sender_id>")
@document("A sender", responses={200: SENDER_OUT, 404: ERROR}, tags=["senders"])
@require(Permission.SENDERS_MANAGE)
def senders_show(sender_id: int) -> Response:
    return jsonify(sender_json(get_sender(g.project, sender_id)))


@bp.patch("/senders/<int:sender_id>")
@document(
    "Change some of a sender's fields",
    description="Only the keys sent change; null clears an optional field. Audited.",
    request=SENDER_IN,
    responses={200: SENDER_OUT, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def senders_update(sender_id: int) -> Response:
    return jsonify(sender_json(update_sender(g.project, sender_id, g.body, actor=g.actor)))


@bp.delete("/senders/<int:sender_id>")
@document(
    "Remove a sender",
    description="Refused (422) while a draft, scheduled, sending or paused campaign uses it.",
    responses={204: None, 404: ERROR, 422: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def senders_delete(sender_id: int) -> tuple[str, int]:
    delete_sender(g.project, sender_id, actor=g.actor)
    return "", 204


@bp.get("/senders/<int:sender_id>/dkim")
@document(
    "The DNS record to publish for the sender's DKIM key",
    responses={200: DKIM_OUT, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def dkim_show(sender_id: int) -> Response:
    sender = get_sender(g.project, sender_id)
    if not (sender.dkim_private_key and sender.dkim_selector):
        return _no_key(sender)
    return jsonify(dkim_json(sender))


@bp.post("/senders/<int:sender_id>/dkim")
@document(
    "Make a new DKIM key (RSA-2048) under a new, dated selector",
    description="The old selector's record may stay published while mail signed with it is "
    "in flight; publish the new record before sending. The private key never leaves the server.",
    responses={201: DKIM_OUT, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def dkim_generate(sender_id: int) -> tuple[Response, int]:
    return jsonify(dkim_json(generate_sender_key(g.project, sender_id, actor=g.actor))), 201


def _no_key(sender: Sender) -> Response:
    return api_error(
        404, "not_found", f"{sender.from_email} has no DKIM key yet: POST /senders/{sender.id}/dkim"
    )
