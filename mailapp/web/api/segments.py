"""Segments API: create (validated), count, and re-count with who entered and left."""

from __future__ import annotations

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.audience.segments import descriptions, store
from mailapp.web.api import api_error, bp, document, require
from mailapp.web.api.contacts import json_body

SEGMENT_IN = {
    "type": "object",
    "required": ["name", "rule"],
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "rule": {"type": "object", "description": "all/any/not tree of conditions; see README"},
    },
}
COUNT = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "entered": {"type": "integer"},
        "left": {"type": "integer"},
    },
}


@bp.post("/segments")
@require(Permission.CONTACTS_WRITE)
@document(
    "Create a segment (an invalid rule is refused with the reason)",
    request=SEGMENT_IN,
    responses={201: {"type": "object"}},
    tags=["segments"],
)
def create_segment() -> Response | tuple[Response, int]:
    try:
        body = json_body()
    except ValueError:
        return api_error(400, "bad_request", "send a JSON object")
    segment = store.save_segment(
        g.project.id,
        str(body.get("name") or ""),
        body.get("rule"),
        description=body.get("description"),
        actor=g.actor,
    )
    description = descriptions.describe_rule(g.project.id, segment.rule)
    return jsonify({"id": segment.id, "name": segment.name, "rule": segment.rule,
                    "description": description}), 201  # fmt: skip


@bp.post("/segments/count")
@require(Permission.CONTACTS_READ)
@document(
    "Count a rule without saving it (live count while editing)",
    request={"type": "object", "required": ["rule"], "properties": {"rule": {"type": "object"}}},
    responses={200: {"type": "object", "properties": {"count": {"type": "integer"}}}},
    tags=["segments"],
)
def count_rule() -> Response:
    try:
        body = json_body()
    except ValueError:
        return api_error(400, "bad_request", "send a JSON object")
    rule = body.get("rule")
    return jsonify(
        {
            "count": store.count_rule(g.project.id, rule),
            "description": descriptions.describe_rule(g.project.id, rule),
        }
    )


@bp.post("/segments/<int:segment_id>/count")
@require(Permission.CONTACTS_READ)
@document(
    "Count a segment now, with how many contacts entered and left since the last count",
    responses={200: COUNT},
    tags=["segments"],
)
def recount_segment(segment_id: int) -> Response:
    result = store.recount_segment(g.project.id, segment_id, actor=g.actor)
    return jsonify({"count": result.count, "entered": result.entered, "left": result.left})
