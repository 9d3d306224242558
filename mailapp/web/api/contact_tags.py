"""Contact tags API: one contact's tags, and a tag added to or removed from many contacts."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from mailapp.access.permissions import Permission
from mailapp.audience import tags
from mailapp.audience.contacts import MAX_BULK
from mailapp.web.api import api_error, bp, document, require

TAGS_OUT = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
}
TAG_IN = {
    "type": "object",
    "required": ["tag"],
    "properties": {"tag": {"type": "string", "minLength": 1, "maxLength": tags.MAX_TAG_LENGTH}},
}
IDS_IN = {
    "type": "object",
    "required": ["contact_ids"],
    "properties": {
        "contact_ids": {"type": "array", "maxItems": MAX_BULK, "items": {"type": "integer"}}
    },
}


def _body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _contact_ids() -> list[int] | None:
    body = _body()
    ids = body.get("contact_ids") if body else None
    if not isinstance(ids, list) or len(ids) > MAX_BULK:
        return None
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return None
    return ids


@bp.get("/contacts/<int:contact_id>/tags")
@require(Permission.CONTACTS_READ)
@document("A contact's tags", responses={200: TAGS_OUT}, tags=["tags"])
def get_contact_tags(contact_id: int) -> Response:
    return jsonify({"tags": tags.contact_tags(g.project.id, contact_id)})


@bp.post("/contacts/<int:contact_id>/tags")
@require(Permission.CONTACTS_WRITE)
@document("Tag a contact", request=TAG_IN, responses={200: TAGS_OUT}, tags=["tags"])
def tag_contact(contact_id: int) -> Response:
    body = _body()
    if body is None or not isinstance(body.get("tag"), str):
        return api_error(400, "bad_request", 'send {"tag": "..."}')
    tags.contact_tags(g.project.id, contact_id)  # 404 before writing for an unknown contact
    tags.tag_contacts(g.project.id, [contact_id], body["tag"], actor=g.actor)
    return jsonify({"tags": tags.contact_tags(g.project.id, contact_id)})


@bp.delete("/contacts/<int:contact_id>/tags/<path:tag>")
@require(Permission.CONTACTS_WRITE)
@document("Remove a tag from a contact", responses={200: TAGS_OUT}, tags=["tags"])
def untag_contact(contact_id: int, tag: str) -> Response:
    tags.contact_tags(g.project.id, contact_id)
    tags.untag_contacts(g.project.id, [contact_id], tag, actor=g.actor)
    return jsonify({"tags": tags.contact_tags(g.project.id, contact_id)})


@bp.post("/tags/<path:tag>/contacts")
@require(Permission.CONTACTS_WRITE)
@document(
    f"Add a tag to up to {MAX_BULK} contacts",
    request=IDS_IN,
    responses={200: {"type": "object", "properties": {"tagged": {"type": "integer"}}}},
    tags=["tags"],
)
def tag_many(tag: str) -> Response:
    ids = _contact_ids()
    if ids is None:
        return api_error(400, "bad_request", f'send {{"contact_ids": [...]}} (at most {MAX_BULK})')
    return jsonify({"tagged": tags.tag_contacts(g.project.id, ids, tag, actor=g.actor)})


@bp.post("/tags/<path:tag>/contacts/remove")
@require(Permission.CONTACTS_WRITE)
@document(
    f"Remove a tag from up to {MAX_BULK} contacts",
    request=IDS_IN,
    responses={200: {"type": "object", "properties": {"untagged": {"type": "integer"}}}},
    tags=["tags"],
)
def untag_many(tag: str) -> Response:
    ids = _contact_ids()
    if ids is None:
        return api_error(400, "bad_request", f'send {{"contact_ids": [...]}} (at most {MAX_BULK})')
    return jsonify({"untagged": tags.untag_contacts(g.project.id, ids, tag, actor=g.actor)})


@bp.get("/tags")
@require(Permission.CONTACTS_READ)
@document(
    "Every tag in use, with how many contacts carry it",
    responses={
        200: {
            "type": "object",
            "properties": {
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"tag": {"type": "string"}, "contacts": {"type": "integer"}},
                    },
                }
            },
        }
    },
    tags=["tags"],
)
def list_tags() -> Response:
    rows = tags.project_tags(g.project.id)
    return jsonify({"data": [{"tag": tag, "contacts": count} for tag, count in rows]})
