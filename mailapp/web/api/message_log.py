"""The activity log over the API: GET /messages (search, filters, keyset pages) and
GET /messages/<id>/events (the message's timeline)."""

from __future__ import annotations

from flask import Response, g, jsonify, request, url_for

from mailapp.access.permissions import Permission
from mailapp.delivery.transactional import get_message
from mailapp.errors import ServiceError
from mailapp.insights.message_log import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    log_filters,
    message_page,
    with_page,
)
from mailapp.insights.message_timeline import message_timeline
from mailapp.web.api import api_error, bp, document, require
from mailapp.web.api.messages import MESSAGE_SCHEMA, message_json

LIST_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "schema": {"type": "string"},
        "description": "a recipient address, a message id (ours or the Message-ID header), an "
        "Idempotency-Key or a provider message id",
    },
    {"name": "status", "in": "query", "schema": {"type": "string"}},
    {"name": "template", "in": "query", "schema": {"type": "integer"}},
    {"name": "tag", "in": "query", "schema": {"type": "string"}},
    {"name": "sender", "in": "query", "schema": {"type": "integer"}},
    {
        "name": "since",
        "in": "query",
        "schema": {"type": "string", "format": "date-time"},
        "description": "accepted at or after (ISO 8601; UTC without an offset)",
    },
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {
        "name": "before",
        "in": "query",
        "schema": {"type": "integer"},
        "description": "keyset cursor: messages older than this id (the `next_before` of a page)",
    },
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "integer"},
        "description": "keyset cursor: messages newer than this id (`newer_after`)",
    },
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    },
]
PAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {"type": "array", "items": MESSAGE_SCHEMA},
        "next_before": {"type": ["integer", "null"], "description": "pass as `before`"},
        "newer_after": {"type": ["integer", "null"], "description": "pass as `after`"},
        "next": {"type": ["string", "null"], "description": "the URL of the next page"},
    },
}
EVENTS_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": {"type": ["string", "null"], "format": "date-time"},
                    "kind": {"type": "string"},
                    "title": {"type": "string"},
                    "detail": {"type": ["string", "null"]},
                    "machine": {"type": "boolean"},
                    "inbound_message_id": {"type": ["integer", "null"]},
                },
            },
        }
    },
}


def _number(name: str, what: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if raw and not raw.isdigit():
        raise ServiceError(f"{name}: give {what}, not {raw!r}")
    return int(raw) if raw else None


def _masked() -> bool:
    return Permission.CONTACTS_READ.value not in g.api_key.scopes


@bp.get("/messages")
@document(
    "Search the transactional activity log",
    description="Newest first, keyset-paginated: follow `next` (or pass `next_before` as "
    "`before`) for older messages. Without the contacts.read scope addresses are masked.",
    parameters=LIST_PARAMETERS,
    responses={200: PAGE_SCHEMA, 422: {"$ref": "#/components/schemas/Error"}},
    tags=["messages"],
)
@require(Permission.MESSAGES_READ)
def messages_list() -> Response:
    filters = log_filters(request.args)
    before, after = _number("before", "a message id"), _number("after", "a message id")
    limit = _number("limit", "a number")
    limit = PAGE_SIZE if limit is None else limit
    if not 1 <= limit <= MAX_PAGE_SIZE:
        return api_error(422, "invalid", f"limit: between 1 and {MAX_PAGE_SIZE}")
    page = message_page(g.project.id, filters, before=before, after=after, limit=limit)
    masked = _masked()
    return jsonify(
        {
            "data": [message_json(r.message, r.tags, masked=masked) for r in page.rows],
            "next_before": page.older,
            "newer_after": page.newer,
            "next": url_for(".messages_list", **with_page(filters, before=page.older), limit=limit)
            if page.older
            else None,
        }
    )


@bp.get("/messages/<int:message_id>/events")
@document(
    "A transactional message's timeline",
    description="Accepted, queued, each SMTP attempt with its reply, bounces, complaints, "
    "unsubscribes, opens and clicks (machine ones flagged), oldest first.",
    responses={200: EVENTS_SCHEMA},
    tags=["messages"],
)
@require(Permission.MESSAGES_READ)
def messages_events(message_id: int) -> Response:
    message = get_message(g.project.id, message_id)
    steps = message_timeline(g.project.id, message)
    return jsonify(
        {
            "data": [
                {
                    "at": s.at.isoformat() if s.at else None,
                    "kind": s.kind,
                    "title": s.title,
                    "detail": s.detail,
                    "machine": s.machine,
                    "inbound_message_id": s.inbound_id,
                }
                for s in steps
            ]
        }
    )
