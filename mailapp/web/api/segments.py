"""Segments API: read, create and change (the rule validated), delete, count a rule, and
re-count a segment with who entered and left."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.audience.segments import descriptions, store
from mailapp.errors import ServiceError
from mailapp.models import Segment
from mailapp.web.api import ERROR, bp, document, require

RULE = {"type": "object", "description": "all/any/not tree of conditions; see README"}
SEGMENT_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": ["string", "null"], "description": "a note for the team"},
    "rule": RULE,
}
SEGMENT_IN = {"type": "object", "additionalProperties": False, "properties": SEGMENT_FIELDS}
SEGMENT_CREATE = {**SEGMENT_IN, "required": ["name", "rule"]}
SEGMENT_SUMMARY = {
    "type": "object",
    "required": ["id", "name", "description", "last_count", "last_counted_at", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "name": SEGMENT_FIELDS["name"],
        "description": SEGMENT_FIELDS["description"],
        "last_count": {
            "type": ["integer", "null"],
            "description": "contacts it held at its last count (saving counts it)",
        },
        "last_counted_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
SEGMENT_OUT = {
    **SEGMENT_SUMMARY,
    "required": [*SEGMENT_SUMMARY["required"], "rule", "rule_description"],
    "properties": {
        **SEGMENT_SUMMARY["properties"],
        "rule": RULE,
        "rule_description": {
            "type": "string",
            "description": "the rule in plain words, e.g. 'contacts whose city is Berlin'",
        },
    },
}
COUNT = {
    "type": "object",
    "required": ["count", "entered", "left"],
    "additionalProperties": False,
    "properties": {
        "count": {"type": "integer"},
        "entered": {"type": "integer"},
        "left": {"type": "integer"},
    },
}
RULE_COUNT = {
    "type": "object",
    "required": ["count", "description"],
    "additionalProperties": False,
    "properties": {"count": {"type": "integer"}, "description": {"type": "string"}},
}


def segment_summary(segment: Segment) -> dict[str, Any]:
    counted = segment.last_counted_at
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "last_count": segment.last_count,
        "last_counted_at": counted.isoformat() if counted else None,
        "created_at": segment.created_at.isoformat(),
    }


def segment_json(segment: Segment) -> dict[str, Any]:
    try:
        words = descriptions.describe_rule(segment.project_id, segment.rule)
    except ServiceError as exc:
        # A stored rule can outlive what it names (a deleted list): say so, as the back office.
        words = f"(this rule needs fixing: {exc})"
    return {**segment_summary(segment), "rule": segment.rule, "rule_description": words}


@bp.get("/segments")
@require(Permission.CONTACTS_READ)
@document(
    "All segments with their last count",
    responses={200: {"type": "array", "items": SEGMENT_SUMMARY}},
    tags=["segments"],
)
def all_segments() -> Response:
    return jsonify([segment_summary(s) for s in store.project_segments(g.project.id)])


@bp.post("/segments")
@require(Permission.CONTACTS_WRITE)
@document(
    "Create a segment (an invalid rule is refused with the reason); it is counted at once",
    request=SEGMENT_CREATE,
    responses={201: SEGMENT_OUT},
    tags=["segments"],
)
def create_segment() -> tuple[Response, int]:
    body = g.body
    segment = store.save_segment(
        g.project.id,
        body["name"],
        body["rule"],
        description=body.get("description"),
        actor=g.actor,
    )
    return jsonify(segment_json(segment)), 201


@bp.get("/segments/<int:segment_id>")
@require(Permission.CONTACTS_READ)
@document(
    "A segment with its rule, in JSON and in plain words",
    responses={200: SEGMENT_OUT, 404: ERROR},
    tags=["segments"],
)
def show_segment(segment_id: int) -> Response:
    return jsonify(segment_json(store.get_segment(g.project.id, segment_id)))


@bp.patch("/segments/<int:segment_id>")
@require(Permission.CONTACTS_WRITE)
@document(
    "Change a segment's name, note or rule",
    description="Only the keys sent change; a new rule is validated and counted. Audited.",
    request=SEGMENT_IN,
    responses={200: SEGMENT_OUT, 404: ERROR},
    tags=["segments"],
)
def update_segment(segment_id: int) -> Response:
    segment = store.get_segment(g.project.id, segment_id)
    values = {"name": segment.name, "description": segment.description, "rule": segment.rule}
    values |= g.body
    saved = store.save_segment(
        g.project.id,
        values["name"],
        values["rule"],
        description=values["description"],
        segment_id=segment.id,
        actor=g.actor,
    )
    return jsonify(segment_json(saved))


@bp.delete("/segments/<int:segment_id>")
@require(Permission.CONTACTS_WRITE)
@document(
    "Delete a segment",
    description="Refused (422) while a draft, scheduled, sending or paused campaign sends to "
    "it. Contacts are not touched; lists frozen from it stay.",
    responses={204: None, 404: ERROR, 422: ERROR},
    tags=["segments"],
)
def delete_segment(segment_id: int) -> tuple[str, int]:
    store.delete_segment(g.project.id, segment_id, actor=g.actor)
    return "", 204


@bp.post("/segments/count")
@require(Permission.CONTACTS_READ)
@document(
    "Count a rule without saving it (live count while editing), with its plain words",
    request={
        "type": "object",
        "additionalProperties": False,
        "required": ["rule"],
        "properties": {"rule": RULE},
    },
    responses={200: RULE_COUNT},
    tags=["segments"],
)
def count_rule() -> Response:
    rule = g.body["rule"]
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
    responses={200: COUNT, 404: ERROR},
    tags=["segments"],
)
def recount_segment(segment_id: int) -> Response:
    result = store.recount_segment(g.project.id, segment_id, actor=g.actor)
    return jsonify({"count": result.count, "entered": result.entered, "left": result.left})
