"""Suppression API: list (a page at a time, filtered), add (manual), remove, check an address."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.audience import suppression
from mailapp.models import Suppression, SuppressionReason
from mailapp.web.api import ERROR, bp, document, require

REASON = {"type": "string", "enum": [r.value for r in SuppressionReason]}
# What the back office shows of an entry; never its hash, event or author.
ENTRY_OUT = {
    "type": "object",
    "required": ["id", "email", "reason", "source", "note", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "email": {
            "type": ["string", "null"],
            "description": "null once the person was erased: only the address's hash is kept",
        },
        "reason": REASON,
        "source": {"type": ["string", "null"], "description": "what added it (api, admin ...)"},
        "note": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
PAGE_SIZE = 100


def entry_json(entry: Suppression) -> dict[str, Any]:
    return {
        "id": entry.id,
        "email": entry.email,
        "reason": entry.reason.value,
        "source": entry.source,
        "note": entry.note,
        "created_at": entry.created_at.isoformat(),
    }


def _moment(value: str | None) -> datetime | None:
    # The parameter's format was checked: an ISO 8601 time with its offset.
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


@bp.get("/suppressions")
@require(Permission.CONTACTS_READ)
@document(
    "The suppression list, oldest first, a page at a time",
    parameters=[
        {
            "name": "after",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0},
            "description": "cursor: the next_cursor of the page before",
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": PAGE_SIZE},
        },
        {"name": "reason", "in": "query", "schema": REASON},
        {"name": "source", "in": "query", "schema": {"type": "string"}},
        {
            "name": "email",
            "in": "query",
            "schema": {"type": "string", "minLength": 1},
            "description": "part of the address",
        },
        {
            "name": "email_exact",
            "in": "query",
            "schema": {"type": "string", "minLength": 1},
            "description": "the whole address, in any case; finds an erased person's entry too",
        },
        {
            "name": "since",
            "in": "query",
            "schema": {"type": "string", "format": "date-time"},
            "description": "added at or after this time",
        },
        {
            "name": "until",
            "in": "query",
            "schema": {"type": "string", "format": "date-time"},
            "description": "added before this time",
        },
    ],
    responses={
        200: {
            "type": "object",
            "required": ["data", "next_cursor"],
            "additionalProperties": False,
            "properties": {
                "data": {"type": "array", "items": ENTRY_OUT},
                "next_cursor": {
                    "type": ["integer", "null"],
                    "description": "pass as `after` for the next page; null: the last page",
                },
            },
        }
    },
    tags=["suppression"],
)
def list_suppressions() -> Response:
    query = g.query
    limit = query.get("limit", PAGE_SIZE)
    reason = query.get("reason")
    page = suppression.list_suppressions(
        g.project.id,
        after_id=query.get("after", 0),
        limit=limit,
        reason=SuppressionReason(reason) if reason else None,
        source=query.get("source"),
        email_contains=query.get("email"),
        email=query.get("email_exact"),
        since=_moment(query.get("since")),
        until=_moment(query.get("until")),
    )
    return jsonify(
        {
            "data": [entry_json(e) for e in page],
            "next_cursor": page[-1].id if len(page) == limit else None,
        }
    )


@bp.post("/suppressions")
@require(Permission.CONTACTS_DELETE)
@document(
    "Suppress an address (manual): nothing is sent to it any more",
    description="An address suppressed already keeps its first entry and reason.",
    request={
        "type": "object",
        "additionalProperties": False,
        "required": ["email"],
        "properties": {
            "email": {"type": "string", "format": "email"},
            "note": {"type": ["string", "null"]},
        },
    },
    responses={201: ENTRY_OUT},
    tags=["suppression"],
)
def add_suppression() -> tuple[Response, int]:
    entry = suppression.suppress(
        g.project.id,
        g.body["email"],
        SuppressionReason.MANUAL,
        actor=g.actor,
        source="api",
        note=g.body.get("note"),
    )
    return jsonify(entry_json(entry)), 201


@bp.get("/suppressions/check/<path:email>")
@require(Permission.CONTACTS_READ)
@document(
    "Is this address suppressed?",
    responses={
        200: {
            "type": "object",
            "required": ["suppressed"],
            "additionalProperties": False,
            "properties": {"suppressed": {"type": "boolean"}},
        }
    },
    tags=["suppression"],
)
def check_suppression(email: str) -> Response:
    return jsonify({"suppressed": suppression.is_suppressed(g.project.id, email)})


@bp.delete("/suppressions/<int:entry_id>")
@require(Permission.CONTACTS_DELETE)
@document(
    "Lift a suppression entry (audited): the address can be mailed again",
    responses={204: None, 404: ERROR},
    tags=["suppression"],
)
def remove_suppression(entry_id: int) -> tuple[str, int]:
    suppression.unsuppress(g.project.id, entry_id, actor=g.actor)
    return "", 204
