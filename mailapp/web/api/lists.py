"""Lists API: lists (read, create, change, delete), memberships (bulk add/remove), and
subscribe with double opt-in."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, url_for

from mailapp.access.permissions import Permission
from mailapp.audience import lists, subscriptions
from mailapp.audience.segments import store
from mailapp.models import List, MembershipStatus, OptIn
from mailapp.web.api import ERROR, bp, document, require
from mailapp.web.api.contacts import CONTACT_IN

NULLABLE_TEXT = {"type": ["string", "null"]}
LIST_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {**NULLABLE_TEXT, "description": "a note for the team"},
    "opt_in": {
        "type": "string",
        "enum": [o.value for o in OptIn],
        "description": "double: a new subscriber confirms by a link mailed to them",
    },
    "is_public": {"type": "boolean", "description": "has a hosted sign-up form"},
    "consent_text": {**NULLABLE_TEXT, "description": "what the sign-up form asks agreement to"},
    "consent_version": {
        "type": ["string", "null"],
        "maxLength": 32,
        "description": "kept on each consent record, so you can tell which text was agreed to",
    },
}
LIST_IN = {"type": "object", "additionalProperties": False, "properties": LIST_FIELDS}
LIST_CREATE = {**LIST_IN, "required": ["name"]}
COUNTS = {
    "type": "object",
    "description": "members per membership status (a status without members is left out)",
    "properties": {s.value: {"type": "integer"} for s in MembershipStatus},
    "additionalProperties": False,
}
LIST_OUT = {
    "type": "object",
    "required": [*LIST_FIELDS, "id", "members", "signup_url", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        **LIST_FIELDS,
        "members": COUNTS,
        "signup_url": {
            "type": ["string", "null"],
            "format": "uri",
            "description": "the hosted sign-up form of a public list",
        },
        "created_at": {"type": "string", "format": "date-time"},
    },
}
IDS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["contact_ids"],
    "properties": {
        "contact_ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 10000},
        "status": {
            "type": "string",
            "enum": [s.value for s in MembershipStatus],
            "default": "confirmed",
        },
    },
}
REMOVE_IDS = {**IDS, "properties": {"contact_ids": IDS["properties"]["contact_ids"]}}


def _count_out(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name],
        "additionalProperties": False,
        "properties": {name: {"type": "integer"}},
    }


def list_json(item: List, counts: dict[str, int] | None = None) -> dict[str, Any]:
    signup = None
    if item.is_public:
        base = current_app.config["BASE_URL"].rstrip("/")
        signup = base + url_for("subscribe.form", token=item.token)
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "opt_in": item.opt_in.value,
        "is_public": item.is_public,
        "consent_text": item.consent_text,
        "consent_version": item.consent_version,
        "members": counts or {},
        "signup_url": signup,
        "created_at": item.created_at.isoformat(),
    }


def _with_counts(item: List) -> dict[str, Any]:
    return list_json(item, lists.list_counts(g.project.id, [item.id]).get(item.id))


@bp.get("/lists")
@require(Permission.CONTACTS_READ)
@document(
    "All lists with member counts",
    responses={200: {"type": "array", "items": LIST_OUT}},
    tags=["lists"],
)
def all_lists() -> Response:
    counts = lists.list_counts(g.project.id)
    return jsonify([list_json(i, counts.get(i.id)) for i in lists.project_lists(g.project.id)])


@bp.post("/lists")
@require(Permission.CONTACTS_WRITE)
@document("Create a list", request=LIST_CREATE, responses={201: LIST_OUT}, tags=["lists"])
def create_list() -> tuple[Response, int]:
    body = g.body
    created = lists.create_list(
        g.project.id,
        body["name"],
        actor=g.actor,
        opt_in=OptIn(body.get("opt_in") or "single"),
        is_public=bool(body.get("is_public")),
        description=body.get("description"),
        consent_text=body.get("consent_text"),
        consent_version=body.get("consent_version"),
    )
    return jsonify(list_json(created)), 201


@bp.get("/lists/<int:list_id>")
@require(Permission.CONTACTS_READ)
@document("A list with its member counts", responses={200: LIST_OUT, 404: ERROR}, tags=["lists"])
def show_list(list_id: int) -> Response:
    return jsonify(_with_counts(lists.get_list(g.project.id, list_id)))


@bp.patch("/lists/<int:list_id>")
@require(Permission.CONTACTS_WRITE)
@document(
    "Change some of a list's settings",
    description="Only the keys sent change; null clears a text. Audited with the names of "
    "the fields changed. Members are not touched: switching to double opt-in asks only new "
    "subscribers to confirm.",
    request=LIST_IN,
    responses={200: LIST_OUT, 404: ERROR},
    tags=["lists"],
)
def update_list(list_id: int) -> Response:
    return jsonify(_with_counts(lists.update_list(g.project.id, list_id, g.body, actor=g.actor)))


@bp.delete("/lists/<int:list_id>")
@require(Permission.CONTACTS_WRITE)
@document(
    "Delete a list",
    description="Refused (422) while a draft, scheduled, sending or paused campaign sends to "
    "it. Its memberships go; the contacts stay, and so do their consent records (evidence of "
    "what each person agreed to). The audit entry keeps the list's name and member counts.",
    responses={204: None, 404: ERROR, 422: ERROR},
    tags=["lists"],
)
def delete_list(list_id: int) -> tuple[str, int]:
    lists.delete_list(g.project.id, list_id, actor=g.actor)
    return "", 204


@bp.post("/lists/<int:list_id>/members")
@require(Permission.CONTACTS_WRITE)
@document(
    "Add contacts to a list (existing members keep their status)",
    request=IDS,
    responses={200: _count_out("added"), 404: ERROR},
    tags=["lists"],
)
def add_members(list_id: int) -> Response:
    status = MembershipStatus(g.body.get("status") or "confirmed")
    ids = g.body["contact_ids"]
    added = lists.add_contacts(g.project.id, list_id, ids, actor=g.actor, status=status)
    return jsonify({"added": added})


@bp.post("/lists/<int:list_id>/members/remove")
@require(Permission.CONTACTS_WRITE)
@document(
    "Remove contacts from a list",
    request=REMOVE_IDS,
    responses={200: _count_out("removed"), 404: ERROR},
    tags=["lists"],
)
def remove_members(list_id: int) -> Response:
    ids = g.body["contact_ids"]
    return jsonify({"removed": lists.remove_contacts(g.project.id, list_id, ids, actor=g.actor)})


@bp.post("/lists/<int:list_id>/members/from-segment/<int:segment_id>")
@require(Permission.CONTACTS_WRITE)
@document(
    "Add every contact a segment matches now",
    responses={200: _count_out("added"), 404: ERROR},
    tags=["lists"],
)
def add_segment_members(list_id: int, segment_id: int) -> Response:
    return jsonify({"added": store.add_segment(g.project.id, list_id, segment_id, actor=g.actor)})


@bp.post("/lists/<int:list_id>/subscribe")
@require(Permission.CONTACTS_WRITE)
@document(
    "Subscribe an address; double opt-in lists (and suppressed addresses) get a confirmation mail",
    request={
        **CONTACT_IN,
        "properties": {
            **CONTACT_IN["properties"],
            "ip": {"type": "string", "description": "the subscriber's IP, for the consent record"},
            "user_agent": {"type": "string"},
            "form_version": {"type": "string"},
        },
    },
    responses={
        202: {
            "type": "object",
            "required": ["contact_id", "status", "confirmation_sent"],
            "properties": {
                "contact_id": {"type": "integer"},
                "status": {"type": "string", "enum": [s.value for s in MembershipStatus]},
                "confirmation_sent": {"type": "boolean"},
            },
        },
        404: ERROR,
    },
    tags=["lists"],
)
def subscribe(list_id: int) -> tuple[Response, int]:
    body = g.body
    result = subscriptions.subscribe(
        g.project.id,
        list_id,
        body,
        actor=g.actor,
        source="api",
        ip=body.get("ip"),
        user_agent=body.get("user_agent"),
        form_version=body.get("form_version"),
    )
    return jsonify(
        {
            "contact_id": result.contact_id,
            "status": result.status.value,
            "confirmation_sent": result.needs_confirmation,
        }
    ), 202
