"""Lists API: lists, memberships (bulk add/remove), and subscribe with double opt-in."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.audience import lists, subscriptions
from mailapp.audience.segments import store
from mailapp.models import List, MembershipStatus, OptIn
from mailapp.web.api import api_error, bp, document, require
from mailapp.web.api.contacts import CONTACT_IN, json_body

LIST_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "opt_in": {"type": "string", "enum": [o.value for o in OptIn]},
        "is_public": {"type": "boolean"},
        "members": {"type": "object", "description": "count per membership status"},
    },
}
IDS = {
    "type": "object",
    "required": ["contact_ids"],
    "properties": {
        "contact_ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 10000},
        "status": {"type": "string", "enum": [s.value for s in MembershipStatus]},
    },
}


def list_json(item: List, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "opt_in": item.opt_in.value,
        "is_public": item.is_public,
        "members": counts or {},
    }


def _ids() -> list[int]:
    body = json_body()
    ids = body.get("contact_ids")
    if not isinstance(ids, list) or len(ids) > 10000 or not all(isinstance(i, int) for i in ids):
        raise ValueError
    return ids


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
@document(
    "Create a list",
    request={
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "opt_in": LIST_OUT["properties"]["opt_in"],
            "is_public": {"type": "boolean"},
            "consent_text": {"type": "string"},
            "consent_version": {"type": "string"},
        },
    },
    responses={201: LIST_OUT},
    tags=["lists"],
)
def create_list() -> Response | tuple[Response, int]:
    try:
        body = json_body()
        opt_in = OptIn(body.get("opt_in") or "single")
    except ValueError:
        return api_error(400, "bad_request", "send a JSON object; opt_in is single or double")
    created = lists.create_list(
        g.project.id,
        str(body.get("name") or ""),
        actor=g.actor,
        opt_in=opt_in,
        is_public=bool(body.get("is_public")),
        description=body.get("description"),
        consent_text=body.get("consent_text"),
        consent_version=body.get("consent_version"),
    )
    return jsonify(list_json(created)), 201


@bp.post("/lists/<int:list_id>/members")
@require(Permission.CONTACTS_WRITE)
@document(
    "Add contacts to a list (existing members keep their status)",
    request=IDS,
    responses={200: {"type": "object", "properties": {"added": {"type": "integer"}}}},
    tags=["lists"],
)
def add_members(list_id: int) -> Response:
    try:
        ids = _ids()
        status = MembershipStatus(json_body().get("status") or "confirmed")
    except ValueError:
        return api_error(400, "bad_request", 'send {"contact_ids": [...]} (at most 10000)')
    added = lists.add_contacts(g.project.id, list_id, ids, actor=g.actor, status=status)
    return jsonify({"added": added})


@bp.post("/lists/<int:list_id>/members/remove")
@require(Permission.CONTACTS_WRITE)
@document(
    "Remove contacts from a list",
    request=IDS,
    responses={200: {"type": "object", "properties": {"removed": {"type": "integer"}}}},
    tags=["lists"],
)
def remove_members(list_id: int) -> Response:
    try:
        ids = _ids()
    except ValueError:
        return api_error(400, "bad_request", 'send {"contact_ids": [...]} (at most 10000)')
    return jsonify({"removed": lists.remove_contacts(g.project.id, list_id, ids, actor=g.actor)})


@bp.post("/lists/<int:list_id>/members/from-segment/<int:segment_id>")
@require(Permission.CONTACTS_WRITE)
@document(
    "Add every contact a segment matches now",
    responses={200: {"type": "object", "properties": {"added": {"type": "integer"}}}},
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
            "properties": {
                "contact_id": {"type": "integer"},
                "status": {"type": "string"},
                "confirmation_sent": {"type": "boolean"},
            },
        }
    },
    tags=["lists"],
)
def subscribe(list_id: int) -> Response | tuple[Response, int]:
    try:
        body = json_body()
    except ValueError:
        return api_error(400, "bad_request", "send a JSON object")
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
