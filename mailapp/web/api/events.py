"""Events API: POST /events, something a contact did (e.g. cart_abandoned), for journeys."""

from __future__ import annotations

from datetime import datetime

from flask import Response, g, jsonify, request

from mailapp.access.permissions import Permission
from mailapp.extensions import db
from mailapp.journeys.posted_events import (
    KEY_LENGTH,
    MAX_DATA_BYTES,
    NAME_WORDS,
    EventKeyReused,
    record_event,
)
from mailapp.web.api import api_error, bp, document, require

EVENT_IN = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$",
            "description": NAME_WORDS,
        },
        "email": {"type": "string", "format": "email", "description": "the contact's address"},
        "contact_id": {"type": "integer", "description": "or the contact's id"},
        "data": {
            "type": "object",
            "description": f"what happened, as JSON (at most {MAX_DATA_BYTES} bytes); a journey "
            "started by the event uses it in its emails as {{ event.<name> }}",
        },
        "occurred_at": {"type": "string", "format": "date-time"},
        "idempotency_key": {
            "type": "string",
            "minLength": 1,
            "maxLength": KEY_LENGTH,
            "description": "or the Idempotency-Key header: a repeat answers the first event",
        },
    },
}
EVENT_OUT = {
    "type": "object",
    "required": ["id", "replayed"],
    "properties": {
        "id": {"type": "integer"},
        "contact_id": {"type": "integer"},
        "name": {"type": "string"},
        "replayed": {"type": "boolean", "description": "true: the key named an earlier event"},
    },
}


@bp.post("/events")
@document(
    "Post an event about a contact",
    description="Stores the event (202): journeys started by this event name enroll the "
    "contact, and enrollments waiting for it move on, within the next trigger scan (about "
    "30 s). A repeat with the same Idempotency-Key (header or field) answers the first "
    "event's id and stores nothing; the same key for another contact, name or data is "
    "refused with 422 (error code idempotency_key_reused).",
    request=EVENT_IN,
    responses={202: EVENT_OUT, 404: {"$ref": "#/components/schemas/Error"}},
    parameters=[{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
    tags=["events"],
)
@require(Permission.EVENTS_WRITE)
def events_create() -> tuple[Response, int] | Response:
    body = g.body
    if "email" not in body and "contact_id" not in body:
        return api_error(422, "invalid", "name the contact: email or contact_id")
    key = request.headers.get("Idempotency-Key") or body.get("idempotency_key")
    if key is not None and len(key) > KEY_LENGTH:
        return api_error(400, "bad_request", f"Idempotency-Key: at most {KEY_LENGTH} characters")
    occurred = body.get("occurred_at")
    try:
        event, created = record_event(
            g.project,
            body["name"],
            contact_id=body.get("contact_id"),
            email=body.get("email"),
            data=body.get("data"),
            idempotency_key=key,
            occurred_at=datetime.fromisoformat(occurred) if occurred else None,
        )
    except EventKeyReused as exc:
        db.session.rollback()
        return api_error(422, "idempotency_key_reused", str(exc))
    response = jsonify(
        {
            "id": event.id,
            "contact_id": event.contact_id,
            "name": event.name,
            "replayed": not created,
        }
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 202
