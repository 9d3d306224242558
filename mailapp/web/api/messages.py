"""Transactional mail: POST /messages (with Idempotency-Key) and GET /messages/<id>."""

from __future__ import annotations

import logging

from flask import Response, g, jsonify, request

from mailapp.access.permissions import Permission
from mailapp.delivery.message_tags import MAX_TAGS, TAG_LENGTH, tags_of
from mailapp.delivery.transactional import (
    IdempotencyConflict,
    get_message,
    request_send,
    submit_message,
)
from mailapp.extensions import db
from mailapp.insights.message_log import mask_address
from mailapp.models import DeliveryStatus, Message
from mailapp.web.api import api_error, bp, document, require

log = logging.getLogger(__name__)
# TAG_RE, of either case: tags are stored in lower case.
TAG_PATTERN = r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*$"

MESSAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "to": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "template_id": {"type": ["integer", "null"]},
        "resend_of": {"type": ["integer", "null"]},
        "track_opens": {"type": "boolean"},
        "status": {"type": "string", "enum": [s.value for s in DeliveryStatus]},
        "attempts": {"type": "integer"},
        "reason": {"type": ["string", "null"]},
        "last_reply": {"type": ["string", "null"]},
        "message_id": {"type": ["string", "null"]},
        "provider_message_id": {"type": ["string", "null"]},
        "idempotency_key": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["to"],
    "properties": {
        "to": {"type": "string", "format": "email"},
        "sender_id": {"type": "integer"},
        "template_id": {"type": "integer", "description": "a template with a published version"},
        "data": {"type": "object", "description": "template variables, as `data.<name>`"},
        "track_opens": {
            "type": "boolean",
            "description": "add an open pixel (off by default for transactional mail)",
        },
        "tags": {
            "type": "array",
            "maxItems": MAX_TAGS,
            "items": {
                "type": "string",
                "pattern": TAG_PATTERN,
                "maxLength": TAG_LENGTH,
                "description": f"1-{TAG_LENGTH} characters: letters, digits, '.', '_' and '-', "
                "starting with a letter or digit",
            },
            "description": "labels the activity log filters by and the dashboard groups by, "
            'e.g. ["password-reset"]; stored in lower case',
        },
        "content": {
            "type": "object",
            "description": "inline content instead of a template",
            "properties": {
                "subject": {"type": "string"},
                "html": {"type": "string"},
                "text": {"type": "string"},
            },
        },
    },
}


def message_json(message: Message, tags: list[str] | None = None, *, masked: bool = False) -> dict:
    """A message as the API shows it; `masked` hides the address (no contacts.read scope)."""
    if tags is None:
        tags = tags_of(message.project_id, [message.id])[message.id]
    return {
        "id": message.id,
        "to": mask_address(message.recipient) if masked else message.recipient,
        "tags": tags,
        "template_id": message.template_id,
        "resend_of": message.resend_of_id,
        "track_opens": message.track_opens,
        "status": message.status.value,
        "attempts": message.attempts,
        "reason": message.reason,
        "last_reply": message.last_reply,
        "message_id": message.message_id,
        "provider_message_id": message.provider_message_id,
        "idempotency_key": message.idempotency_key,
        "created_at": message.created_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
    }


@bp.post("/messages")
@document(
    "Send one transactional message",
    description="A repeat with the same Idempotency-Key within 24 h returns the first "
    "message (200, Idempotent-Replayed: true) and sends nothing; the same key with a "
    "different request (other to, sender, template, content or data) is refused with 422 "
    "(error code idempotency_key_reused).",
    request=REQUEST_SCHEMA,
    responses={
        201: MESSAGE_SCHEMA,
        200: MESSAGE_SCHEMA,
        422: {"$ref": "#/components/schemas/Error"},
    },
    parameters=[{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
    tags=["messages"],
)
@require(Permission.CAMPAIGNS_SEND)
def messages_create() -> tuple[Response, int] | Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        return api_error(400, "bad_request", "send a JSON object with at least 'to'")
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > 255:
        return api_error(400, "bad_request", "Idempotency-Key: at most 255 characters")
    try:
        message, created = submit_message(
            g.project,
            actor=g.actor,
            to=body["to"],
            sender_id=body.get("sender_id"),
            template_id=body.get("template_id"),
            content=body.get("content"),
            data=body.get("data"),
            idempotency_key=key,
            tags=body.get("tags"),
            track_opens=body.get("track_opens", False),
        )
    except IdempotencyConflict as exc:
        db.session.rollback()
        return api_error(422, "idempotency_key_reused", str(exc))
    if created and message.status == DeliveryStatus.QUEUED:
        request_send(message.id)
    response = jsonify(message_json(message))
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201 if created else 200


@bp.get("/messages/<int:message_id>")
@document("A transactional message's status", responses={200: MESSAGE_SCHEMA}, tags=["messages"])
@require(Permission.CAMPAIGNS_SEND)
def messages_show(message_id: int) -> Response:
    return jsonify(message_json(get_message(g.project.id, message_id)))
