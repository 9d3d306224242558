"""Journeys API: the project's journeys with their status and per-step counts, contacts put in
or taken out by hand, and one contact's passes through a journey."""

from __future__ import annotations

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.journeys import history
from mailapp.journeys.enrollment import enroll, unenroll
from mailapp.journeys.journeys import get_journey, project_journeys, step_counts
from mailapp.models import EnrollmentStatus, Journey, JourneyStatus
from mailapp.web.api import api_error, bp, document, require

MAX_ENROLL = 10_000
ERROR = {"$ref": "#/components/schemas/Error"}
TIME = {"type": ["string", "null"], "format": "date-time"}
JOURNEY_OUT = {
    "type": "object",
    "required": ["id", "name", "status", "version", "trigger"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": [s.value for s in JourneyStatus]},
        "version": {"type": ["integer", "null"], "description": "the published version's number"},
        "trigger": {"type": "object", "description": "the published trigger (else the draft's)"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": TIME,
    },
}
COUNTS = {
    "type": "object",
    "properties": {k: {"type": "integer"} for k in ("waiting", "passed", "left")},
}
JOURNEY_DETAIL = {
    **JOURNEY_OUT,
    "properties": {
        **JOURNEY_OUT["properties"],
        "steps": {
            "type": "object",
            "description": "per step key: contacts waiting there, passed through, left there",
            "additionalProperties": COUNTS,
        },
    },
}
ENROLL_IN = {
    "type": "object",
    "additionalProperties": False,
    "description": "exactly one of contact_ids, emails or segment_id",
    "properties": {
        "contact_ids": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ENROLL,
            "items": {"type": "integer"},
        },
        "emails": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ENROLL,
            "items": {"type": "string", "format": "email"},
        },
        "segment_id": {"type": "integer", "description": "everyone matching it now"},
        "data": {"type": "object", "description": "the enrollments' data ({{ event.<name> }})"},
    },
}
UNENROLL_IN = {
    "type": "object",
    "additionalProperties": False,
    "description": "contact_id or email",
    "properties": {"contact_id": {"type": "integer"}, "email": {"type": "string"}},
}
STEP_OUT = {
    "type": "object",
    "properties": {
        "seq": {"type": "integer"},
        "step": {"type": "string"},
        "outcome": {"type": "string"},
        "detail": {"type": "object"},
        "at": {"type": "string", "format": "date-time"},
    },
}
ENROLLMENT_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "round": {"type": "integer"},
        "version": {"type": ["integer", "null"]},
        "status": {"type": "string", "enum": [s.value for s in EnrollmentStatus]},
        "step": {"type": ["string", "null"]},
        "waiting_for": {"type": ["string", "null"]},
        "wake_at": TIME,
        "entered_at": {"type": "string", "format": "date-time"},
        "left_at": TIME,
        "exit_reason": {"type": ["string", "null"]},
        "data": {"type": "object"},
        "steps": {"type": "array", "items": STEP_OUT},
    },
}


def _iso(when) -> str | None:
    return when.isoformat() if when else None


def journey_json(journey: Journey, version: int | None, trigger: dict | None) -> dict:
    """A journey as the API shows it."""
    return {
        "id": journey.id,
        "name": journey.name,
        "description": journey.description,
        "status": journey.status.value,
        "version": version,
        "trigger": trigger if trigger is not None else (journey.trigger or {}),
        "created_at": journey.created_at.isoformat(),
        "updated_at": _iso(journey.updated_at),
    }


@bp.get("/journeys")
@document(
    "The project's journeys",
    responses={
        200: {"type": "object", "properties": {"data": {"type": "array", "items": JOURNEY_OUT}}}
    },
    tags=["journeys"],
)
@require(Permission.JOURNEYS_READ)
def journeys_index() -> Response:
    journeys = project_journeys(g.project)
    published = history.published_versions(g.project.id, [j.published_version_id for j in journeys])
    return jsonify(
        {
            "data": [
                journey_json(j, *published.get(j.published_version_id, (None, None)))
                for j in journeys
            ]
        }
    )


@bp.get("/journeys/<int:journey_id>")
@document(
    "A journey: status, published version, trigger and per-step counts",
    responses={200: JOURNEY_DETAIL, 404: ERROR},
    tags=["journeys"],
)
@require(Permission.JOURNEYS_READ)
def journeys_show(journey_id: int) -> Response:
    journey = get_journey(g.project, journey_id)
    published = history.published_versions(g.project.id, [journey.published_version_id])
    body = journey_json(journey, *published.get(journey.published_version_id, (None, None)))
    body["steps"] = step_counts(g.project, journey_id)
    return jsonify(body)


@bp.post("/journeys/<int:journey_id>/enroll")
@document(
    "Put contacts into a journey (by ids, addresses or a segment)",
    description="Only active, unsuppressed contacts enter, as the journey's re-entry policy "
    "allows; the answer counts those who did.",
    request=ENROLL_IN,
    responses={
        200: {"type": "object", "properties": {"enrolled": {"type": "integer"}}},
        404: ERROR,
    },
    tags=["journeys"],
)
@require(Permission.JOURNEYS_WRITE)
def journeys_enroll(journey_id: int) -> Response | tuple[Response, int]:
    body = g.body
    given = [k for k in ("contact_ids", "emails", "segment_id") if k in body]
    if len(given) != 1:
        return api_error(422, "invalid", "give exactly one of contact_ids, emails or segment_id")
    get_journey(g.project, journey_id)
    if "segment_id" in body:
        who: list[int] | int = body["segment_id"]
    elif "emails" in body:
        who = history.contacts_by_email(g.project.id, body["emails"])
    else:
        who = body["contact_ids"]
    enrolled = enroll(g.project, journey_id, who, data=body.get("data"), actor=g.actor)
    return jsonify({"enrolled": enrolled})


@bp.post("/journeys/<int:journey_id>/unenroll")
@document(
    "Take a contact out of a journey",
    description="Its queued journey mail is not sent; 404 when the contact is not inside.",
    request=UNENROLL_IN,
    responses={
        200: {"type": "object", "properties": {"unenrolled": {"type": "boolean"}}},
        404: ERROR,
    },
    tags=["journeys"],
)
@require(Permission.JOURNEYS_WRITE)
def journeys_unenroll(journey_id: int) -> Response | tuple[Response, int]:
    body = g.body
    if ("contact_id" in body) == ("email" in body):
        return api_error(422, "invalid", "give contact_id or email")
    get_journey(g.project, journey_id)
    contact_id = history.find_contact(g.project.id, body.get("contact_id") or body["email"])
    unenroll(g.project, journey_id, contact_id, actor=g.actor)
    return jsonify({"unenrolled": True})


@bp.get("/journeys/<int:journey_id>/enrollments")
@document(
    "A contact's passes through a journey, with the steps each took",
    parameters=[
        {
            "name": "contact",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
            "description": "the contact's id or address",
        }
    ],
    responses={
        200: {"type": "object", "properties": {"data": {"type": "array", "items": ENROLLMENT_OUT}}},
        404: ERROR,
    },
    tags=["journeys"],
)
@require(Permission.JOURNEYS_READ)
def journeys_enrollments(journey_id: int) -> Response | tuple[Response, int]:
    if "contact" not in g.query:
        return api_error(422, "invalid", "give ?contact=<id or address>")
    get_journey(g.project, journey_id)
    contact_id = history.find_contact(g.project.id, g.query["contact"])
    passes = history.contact_passes(g.project.id, journey_id, contact_id)
    return jsonify({"data": [_pass_json(p) for p in passes]})


def _pass_json(found: history.Pass) -> dict:
    e = found.enrollment
    return {
        "id": e.id,
        "round": e.round,
        "version": found.version,
        "status": e.status.value,
        "step": e.step,
        "waiting_for": e.waiting_for,
        "wake_at": _iso(e.wake_at),
        "entered_at": e.entered_at.isoformat(),
        "left_at": _iso(e.left_at),
        "exit_reason": e.exit_reason,
        "data": e.data or {},
        "steps": [
            {
                "seq": s.seq,
                "step": s.step,
                "outcome": s.outcome,
                "detail": s.detail or {},
                "at": s.at.isoformat(),
            }
            for s in found.steps
        ],
    }
