"""Contacts API: get, upsert by email, bulk upsert, delete, list with cursor pagination."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from mailapp.access.permissions import Permission
from mailapp.audience import contact_reads, contacts, gdpr
from mailapp.audience.contacts import MAX_BULK
from mailapp.models import Contact, ContactStatus, DuplicatePolicy
from mailapp.web.api import api_error, bp, document, require

CONTACT_IN = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "format": "email"},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "timezone": {"type": ["string", "null"], "description": "IANA name, e.g. Europe/Berlin"},
        "locale": {"type": ["string", "null"]},
        "attributes": {"type": "object"},
    },
}
CONTACT_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string", "description": "normalized: lower-cased"},
        "email_raw": {"type": "string", "description": "the address as it was typed"},
        "status": {"type": "string", "enum": [s.value for s in ContactStatus]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "timezone": {"type": ["string", "null"]},
        "locale": {"type": ["string", "null"]},
        "attributes": {"type": "object"},
        "source": {"type": ["string", "null"]},
        "quarantined": {"type": "boolean"},
        "is_role_address": {"type": "boolean"},
        "is_disposable": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
# A bulk row with a bad address is reported in the answer's errors; the other rows are saved.
BULK_ROW = {
    **CONTACT_IN,
    "properties": {**CONTACT_IN["properties"], "email": {"type": "string"}},
}
POLICY = {"type": "string", "enum": [p.value for p in DuplicatePolicy], "default": "update"}


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "email": contact.email,
        "email_raw": contact.email_raw,
        "status": contact.status.value,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "timezone": contact.timezone,
        "locale": contact.locale,
        "attributes": contact.attributes,
        "source": contact.source,
        "quarantined": contact.quarantined,
        "is_role_address": contact.is_role_address,
        "is_disposable": contact.is_disposable,
        "created_at": contact.created_at.isoformat(),
    }


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError
    return body


def _policy(value: Any) -> DuplicatePolicy:
    try:
        return DuplicatePolicy(value or "update")
    except ValueError:
        raise contacts.ServiceError(f"policy must be one of {POLICY['enum']}") from None


@bp.get("/contacts")
@require(Permission.CONTACTS_READ)
@document(
    "List contacts, oldest first, a page at a time",
    parameters=[
        {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "cursor"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}},
        {"name": "status", "in": "query", "schema": CONTACT_OUT["properties"]["status"]},
        {"name": "list_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "email", "in": "query", "schema": {"type": "string"}, "description": "part"},
    ],
    responses={
        200: {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": CONTACT_OUT},
                "next_cursor": {"type": ["integer", "null"]},
            },
        }
    },
    tags=["contacts"],
)
def list_contacts() -> Response:
    args = request.args
    try:
        status = ContactStatus(args["status"]) if args.get("status") else None
        limit = int(args.get("limit", 100))
        after = int(args.get("after", 0))
        list_id = int(args["list_id"]) if args.get("list_id") else None
    except ValueError:
        return api_error(
            400, "bad_request", "after, limit and list_id are numbers; status a status"
        )
    page = contact_reads.list_contacts(
        g.project.id,
        after_id=after,
        limit=limit,
        status=status,
        list_id=list_id,
        email_contains=args.get("email"),
    )
    full = len(page) == min(max(limit, 1), 1000)
    return jsonify(
        {"data": [contact_json(c) for c in page], "next_cursor": page[-1].id if full else None}
    )


@bp.get("/contacts/<int:contact_id>")
@require(Permission.CONTACTS_READ)
@document("Get one contact", responses={200: CONTACT_OUT}, tags=["contacts"])
def get_contact(contact_id: int) -> Response:
    return jsonify(contact_json(contacts.get_contact(g.project.id, contact_id)))


@bp.get("/contacts/by-email/<path:email>")
@require(Permission.CONTACTS_READ)
@document("Find a contact by email address", responses={200: CONTACT_OUT}, tags=["contacts"])
def get_contact_by_email(email: str) -> Response:
    return jsonify(contact_json(contacts.find_contact(g.project.id, email)))


@bp.put("/contacts")
@require(Permission.CONTACTS_WRITE)
@document(
    "Create or update a contact by email",
    request={**CONTACT_IN, "properties": {**CONTACT_IN["properties"], "policy": POLICY}},
    responses={200: CONTACT_OUT, 201: CONTACT_OUT},
    tags=["contacts"],
)
def upsert_contact() -> Response | tuple[Response, int]:
    try:
        body = json_body()
    except ValueError:
        return api_error(400, "bad_request", "send a JSON object")
    contact, created = contacts.upsert_contact(
        g.project.id, body, actor=g.actor, policy=_policy(body.get("policy"))
    )
    return jsonify(contact_json(contact)), 201 if created else 200


@bp.post("/contacts/bulk")
@require(Permission.CONTACTS_WRITE)
@document(
    f"Create or update up to {MAX_BULK} contacts in one call",
    request={
        "type": "object",
        "required": ["contacts"],
        "properties": {
            "contacts": {"type": "array", "maxItems": MAX_BULK, "items": BULK_ROW},
            "policy": POLICY,
        },
    },
    responses={
        200: {
            "type": "object",
            "properties": {
                "created": {"type": "integer"},
                "updated": {"type": "integer"},
                "skipped": {"type": "integer"},
                "errors": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
    tags=["contacts"],
)
def bulk_upsert() -> Response:
    try:
        body = json_body()
        items = body["contacts"]
        if not isinstance(items, list):
            raise ValueError
    except (ValueError, KeyError):
        return api_error(400, "bad_request", 'send {"contacts": [...]}')
    result = contacts.upsert_contacts(
        g.project.id, items, actor=g.actor, policy=_policy(body.get("policy"))
    )
    counts = result.counts
    return jsonify(
        {
            "created": counts.created,
            "updated": counts.updated,
            "skipped": counts.skipped,
            "errors": result.errors,
        }
    )


@bp.delete("/contacts/<int:contact_id>")
@require(Permission.CONTACTS_DELETE)
@document(
    "Delete a contact (its suppression entries stay)", responses={204: None}, tags=["contacts"]
)
def delete_contact(contact_id: int) -> tuple[str, int]:
    contacts.delete_contact(g.project.id, contact_id, actor=g.actor)
    return "", 204


@bp.get("/contacts/<int:contact_id>/export")
@require(Permission.GDPR_ERASE)  # a GDPR access request: whoever handles erasure handles it
@document(
    "Export everything held about one contact (GDPR access request)",
    responses={200: {"type": "object"}},
    tags=["gdpr"],
)
def export_contact(contact_id: int) -> Response:
    return jsonify(gdpr.export_contact(g.project.id, contact_id, actor=g.actor))


@bp.post("/contacts/<int:contact_id>/erase")
@require(Permission.GDPR_ERASE)
@document(
    "Erase a contact's personal data, keeping a hashed suppression entry",
    responses={204: None},
    tags=["gdpr"],
)
def erase_contact(contact_id: int) -> tuple[str, int]:
    gdpr.erase_contact(g.project.id, contact_id, actor=g.actor)
    return "", 204
