"""A sender's transports (SMTP relays, Mailgun): list with health, add, change, remove.

The URL holds a password or an API key: it can be sent, never read back; answers carry its
kind and host only.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.delivery.sender_transports import (
    MAX_WEIGHT,
    URL_HELP,
    add_transport,
    get_transport,
    host_of,
    kind_of,
    remove_transport,
    sender_transports,
    update_transport,
)
from mailapp.delivery.transport_status import transport_status
from mailapp.models import SenderTransport
from mailapp.web.api import ERROR, bp, document, require

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TRANSPORT_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "weight": {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_WEIGHT,
        "description": "share of the mail among the weighted transports; 0: a backup, used "
        "only when every weighted one fails",
    },
    "enabled": {"type": "boolean"},
}
TRANSPORT_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **TRANSPORT_FIELDS,
        "url": {
            "type": "string",
            "minLength": 1,
            "description": f"{URL_HELP}; stored encrypted, never shown",
            "writeOnly": True,
        },
    },
}
TRANSPORT_CREATE = {**TRANSPORT_IN, "required": ["name", "url"]}
HEALTH_OUT = {
    "type": "object",
    "required": ["state", "summary"],
    "properties": {
        "state": {"enum": ["healthy", "failing", "paused", "off", "unknown"]},
        "summary": {"type": "string", "description": "the health in plain words"},
        "sent_15min": {"type": "integer"},
        "errors_15min": {"type": "integer", "description": "relay errors (failed over)"},
        "errors_in_a_row": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "last_error_at": NULLABLE_TIME,
        "failing_since": NULLABLE_TIME,
        "paused_seconds": {"type": "integer", "description": "left in the pause; 0: not paused"},
    },
}
TRANSPORT_OUT = {
    "type": "object",
    "required": ["id", "name", "kind", "host", "weight", "enabled", "position", "health"],
    "properties": {
        "id": {"type": "integer"},
        **TRANSPORT_FIELDS,
        "kind": {"enum": ["SMTP", "Mailgun"]},
        "host": {"type": "string", "description": "the server's host; never the credentials"},
        "position": {"type": "integer", "description": "order among backups, from 0"},
        "health": HEALTH_OUT,
    },
}
PATH = "/senders/<int:sender_id>/transports"


def transport_json(transport: SenderTransport) -> dict[str, Any]:
    return {
        "id": transport.id,
        "name": transport.name,
        "kind": kind_of(transport.url),
        "host": host_of(transport.url),
        "weight": transport.weight,
        "enabled": transport.enabled,
        "position": transport.position,
        "health": transport_status(transport, g.project.timezone),
    }


@bp.get(PATH)
@document(
    "A sender's transports, with their health",
    description="None: the sender's mail goes via the server's SMTP_URL.",
    responses={200: {"type": "array", "items": TRANSPORT_OUT}, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def transports_list(sender_id: int) -> Response:
    return jsonify([transport_json(t) for t in sender_transports(g.project, sender_id)])


@bp.post(PATH)
@document(
    "Add a transport to a sender",
    description="The URL is checked (and a Mailgun one on a private address refused in "
    "production); it goes last in the order. Audited, without the URL.",
    request=TRANSPORT_CREATE,
    responses={201: TRANSPORT_OUT, 404: ERROR, 422: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def transports_create(sender_id: int) -> tuple[Response, int]:
    transport = add_transport(g.project, sender_id, g.body, actor=g.actor)
    return jsonify(transport_json(transport)), 201


@bp.get(f"{PATH}/<int:transport_id>")
@document(
    "One transport of a sender, with its health",
    responses={200: TRANSPORT_OUT, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def transports_show(sender_id: int, transport_id: int) -> Response:
    return jsonify(transport_json(get_transport(g.project, sender_id, transport_id)))


@bp.patch(f"{PATH}/<int:transport_id>")
@document(
    "Change a transport",
    description="Only the keys sent change; without `url` the stored one is kept. Audited.",
    request=TRANSPORT_IN,
    responses={200: TRANSPORT_OUT, 404: ERROR, 422: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def transports_update(sender_id: int, transport_id: int) -> Response:
    transport = update_transport(g.project, sender_id, transport_id, g.body, actor=g.actor)
    return jsonify(transport_json(transport))


@bp.delete(f"{PATH}/<int:transport_id>")
@document(
    "Remove a transport",
    description="With none left, the sender's mail goes via the server's SMTP_URL.",
    responses={204: None, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def transports_delete(sender_id: int, transport_id: int) -> tuple[str, int]:
    remove_transport(g.project, sender_id, transport_id, actor=g.actor)
    return "", 204
