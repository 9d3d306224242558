"""Access API: the project's API keys and its members' roles.

A key grants only what it holds itself: it cannot make a key with a scope it lacks, nor give
(or take away) a role that can do more than its own scopes allow. A new key, and a new user's
first password, are in the answer that creates them and never again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, g, jsonify

from mailapp.access.apikeys import MAX_EXPIRY_DAYS, create_api_key, revoke_api_key
from mailapp.access.permissions import Permission
from mailapp.access.roster import project_api_keys, project_members
from mailapp.access.users import change_role, invite_user, remove_member
from mailapp.models import ApiKey, Membership, Role
from mailapp.web.api import ERROR, bp, document, require

SCOPES = {"type": "array", "items": {"type": "string", "enum": [p.value for p in Permission]}}
WHEN = {"type": ["string", "null"], "format": "date-time"}
KEY_OUT = {
    "type": "object",
    "required": ["id", "name", "prefix", "scopes", "revoked_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "the key's first characters, to recognise it"},
        "scopes": SCOPES,
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": WHEN,
        "revoked_at": WHEN,
        "last_used_at": WHEN,
    },
}
KEY_CREATED = {
    **KEY_OUT,
    "required": [*KEY_OUT["required"], "key"],
    "properties": {
        **KEY_OUT["properties"],
        "key": {"type": "string", "description": "the key itself: shown this once, never stored"},
    },
}
KEY_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "scopes"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "scopes": {**SCOPES, "minItems": 1, "description": "at most the scopes of this key"},
        "expires_in_days": {"type": "integer", "minimum": 1, "maximum": MAX_EXPIRY_DAYS},
    },
}
ROLE = {"type": "string", "enum": [r.value for r in Role]}
MEMBER_OUT = {
    "type": "object",
    "required": ["id", "email", "role", "active"],
    "properties": {
        "id": {"type": "integer", "description": "the membership's id"},
        "email": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "role": ROLE,
        "active": {"type": "boolean"},
        "two_factor": {"type": "boolean"},
        "last_login_at": WHEN,
    },
}
MEMBER_CREATED = {
    **MEMBER_OUT,
    "properties": {
        **MEMBER_OUT["properties"],
        "password": {
            "type": ["string", "null"],
            "description": "a new user's first password, shown this once; null for a person "
            "who already has a login",
        },
    },
}
INVITE_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "role"],
    "properties": {
        "email": {"type": "string", "format": "email"},
        "role": ROLE,
        "name": {"type": ["string", "null"], "maxLength": 200},
    },
}
ROLE_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role"],
    "properties": {"role": ROLE},
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def key_json(api_key: ApiKey) -> dict[str, Any]:
    return {
        "id": api_key.id,
        "name": api_key.name,
        "prefix": api_key.prefix,
        "scopes": api_key.scopes,
        "created_at": api_key.created_at.isoformat(),
        "expires_at": _iso(api_key.expires_at),
        "revoked_at": _iso(api_key.revoked_at),
        "last_used_at": _iso(api_key.last_used_at),
    }


def member_json(membership: Membership) -> dict[str, Any]:
    user = membership.user
    return {
        "id": membership.id,
        "email": user.email,
        "name": user.name,
        "role": membership.role.value,
        "active": user.active,
        "two_factor": user.totp_enabled_at is not None,
        "last_login_at": _iso(user.last_login_at),
    }


@bp.get("/api-keys")
@document(
    "The project's API keys (never the keys themselves)",
    responses={200: {"type": "array", "items": KEY_OUT}},
    tags=["access"],
)
@require(Permission.APIKEYS_MANAGE)
def keys_list() -> Response:
    return jsonify([key_json(k) for k in project_api_keys(g.project.id)])


@bp.post("/api-keys")
@document(
    "Make an API key with some of this key's scopes",
    request=KEY_IN,
    responses={201: KEY_CREATED},
    tags=["access"],
)
@require(Permission.APIKEYS_MANAGE)
def keys_create() -> tuple[Response, int]:
    body = g.body
    api_key, key = create_api_key(
        g.project.id,
        body["name"],
        body["scopes"],
        actor=g.actor,
        expires_in_days=body.get("expires_in_days"),
        grantable=g.api_key.scopes,
    )
    return jsonify({**key_json(api_key), "key": key}), 201


@bp.delete("/api-keys/<int:key_id>")
@document("Revoke an API key at once", responses={200: KEY_OUT, 404: ERROR}, tags=["access"])
@require(Permission.APIKEYS_MANAGE)
def keys_revoke(key_id: int) -> Response:
    return jsonify(key_json(revoke_api_key(g.project.id, key_id, actor=g.actor)))


@bp.get("/members")
@document(
    "The people with a role in the project",
    responses={200: {"type": "array", "items": MEMBER_OUT}},
    tags=["access"],
)
@require(Permission.USERS_MANAGE)
def members_list() -> Response:
    return jsonify([member_json(m) for m in project_members(g.project.id)])


@bp.post("/members")
@document(
    "Give a person a role in the project (a new login if they have none)",
    request=INVITE_IN,
    responses={201: MEMBER_CREATED},
    tags=["access"],
)
@require(Permission.USERS_MANAGE)
def members_invite() -> tuple[Response, int]:
    body = g.body
    membership, password = invite_user(
        g.project.id,
        body["email"],
        role=body["role"],
        name=body.get("name"),
        actor=g.actor,
        grantable=g.api_key.scopes,
    )
    return jsonify({**member_json(membership), "password": password}), 201


@bp.patch("/members/<int:membership_id>")
@document(
    "Change a member's role",
    description="The last owner stays an owner; the member's sessions end so the new role "
    "applies at once.",
    request=ROLE_IN,
    responses={200: MEMBER_OUT, 404: ERROR},
    tags=["access"],
)
@require(Permission.USERS_MANAGE)
def members_change(membership_id: int) -> Response:
    membership = change_role(
        g.project.id, membership_id, g.body["role"], actor=g.actor, grantable=g.api_key.scopes
    )
    return jsonify(member_json(membership))


@bp.delete("/members/<int:membership_id>")
@document(
    "Take a person out of the project (their login stays for other projects)",
    responses={204: None, 404: ERROR},
    tags=["access"],
)
@require(Permission.USERS_MANAGE)
def members_remove(membership_id: int) -> tuple[str, int]:
    remove_member(g.project.id, membership_id, actor=g.actor, grantable=g.api_key.scopes)
    return "", 204
