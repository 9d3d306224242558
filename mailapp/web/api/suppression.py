"""Suppression API: add (manual), remove, and check an address."""

from __future__ import annotations

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.audience import suppression
from mailapp.models import SuppressionReason
from mailapp.web.api import api_error, bp, document, require
from mailapp.web.api.contacts import json_body


@bp.post("/suppressions")
@require(Permission.CONTACTS_DELETE)
@document(
    "Suppress an address (manual): nothing is sent to it any more",
    request={
        "type": "object",
        "required": ["email"],
        "properties": {"email": {"type": "string"}, "note": {"type": "string"}},
    },
    responses={201: {"type": "object"}},
    tags=["suppression"],
)
def add_suppression() -> Response | tuple[Response, int]:
    try:
        body = json_body()
        email = str(body["email"])
    except (ValueError, KeyError):
        return api_error(400, "bad_request", 'send {"email": "..."}')
    entry = suppression.suppress(
        g.project.id,
        email,
        SuppressionReason.MANUAL,
        actor=g.actor,
        source="api",
        note=body.get("note"),
    )
    return jsonify({"id": entry.id, "reason": entry.reason.value}), 201


@bp.get("/suppressions/check/<path:email>")
@require(Permission.CONTACTS_READ)
@document(
    "Is this address suppressed?",
    responses={200: {"type": "object", "properties": {"suppressed": {"type": "boolean"}}}},
    tags=["suppression"],
)
def check_suppression(email: str) -> Response:
    return jsonify({"suppressed": suppression.is_suppressed(g.project.id, email)})


@bp.delete("/suppressions/<int:entry_id>")
@require(Permission.CONTACTS_DELETE)
@document("Lift a suppression entry (audited)", responses={204: None}, tags=["suppression"])
def remove_suppression(entry_id: int) -> tuple[str, int]:
    suppression.unsuppress(g.project.id, entry_id, actor=g.actor)
    return "", 204
