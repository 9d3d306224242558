"""Outbound webhooks API: endpoints, their signing secret (shown once), their delivery attempts.

The same rules as the back office: known event types, no credentials in the URL, no private
target unless an operator allowed it there (an API key may not). Every change is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.integrations import webhook_endpoints as endpoints
from mailapp.integrations.webhooks import EVENT_TYPES
from mailapp.models import AttemptStatus, WebhookAttempt, WebhookEndpoint
from mailapp.web.api import ERROR, bp, document, require

TAGS = ["webhooks"]
EVENT_TYPE_LIST = {
    "type": "array",
    "items": {"type": "string", "enum": list(EVENT_TYPES)},
    "description": "the events sent to this endpoint; empty for all",
}
URL = {"type": "string", "format": "uri", "maxLength": 2048}
ALLOW_PRIVATE = {
    "type": "boolean",
    "description": "whether a private, loopback or link-local target is allowed; only an "
    "operator may allow it, in the back office",
}
ENDPOINT_OUT = {
    "type": "object",
    "required": ["id", "url", "event_types", "active", "allow_private", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "event_types": EVENT_TYPE_LIST,
        "active": {"type": "boolean"},
        "allow_private": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
WITH_SECRET = {
    **ENDPOINT_OUT,
    "required": [*ENDPOINT_OUT["required"], "secret"],
    "properties": {
        **ENDPOINT_OUT["properties"],
        "secret": {
            "type": "string",
            "description": "the signing secret: shown in this answer only, keep it now",
        },
    },
}
CREATE_IN = {
    "type": "object",
    "required": ["url"],
    "additionalProperties": False,
    "properties": {
        "url": URL,
        "event_types": EVENT_TYPE_LIST,
        "active": {"type": "boolean", "default": True},
        "allow_private": ALLOW_PRIVATE,
    },
}
UPDATE_IN = {**CREATE_IN, "required": []}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
ATTEMPT_FIELDS = {
    "id": {"type": "integer"},
    "event_type": {"type": "string"},
    "status": {"type": "string", "enum": [s.value for s in AttemptStatus]},
    "attempts": {"type": "integer", "description": "requests made so far"},
    "response_code": {"type": ["integer", "null"]},
    "error": {"type": ["string", "null"]},
    "created_at": {"type": "string", "format": "date-time"},
    "next_attempt_at": {**TIME_OR_NULL, "description": "the next try; null when none"},
    "delivered_at": TIME_OR_NULL,
}
ATTEMPT_OUT = {
    "type": "object",
    "required": list(ATTEMPT_FIELDS),
    "additionalProperties": False,
    "properties": ATTEMPT_FIELDS,
}
ATTEMPT_PAGE = {
    "type": "object",
    "required": ["data", "next_cursor"],
    "additionalProperties": False,
    "properties": {
        "data": {"type": "array", "items": ATTEMPT_OUT},
        "next_cursor": {
            "type": ["integer", "null"],
            "description": "pass as `after` for the next page; null on the last page",
        },
    },
}
RETRY_IN = {
    "type": "object",
    "required": ["attempt_ids"],
    "additionalProperties": False,
    "properties": {
        "attempt_ids": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 1,
            "maxItems": 1000,
        }
    },
}
RETRY_OUT = {
    "type": "object",
    "required": ["retried"],
    "additionalProperties": False,
    "properties": {"retried": {"type": "integer", "description": "attempts queued again"}},
}


def endpoint_json(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    """An endpoint as the API shows it; the secret only when it was just made."""
    shown: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types or []),
        "active": endpoint.active,
        "allow_private": endpoint.allow_private,
        "created_at": endpoint.created_at.isoformat(),
    }
    if secret is not None:
        shown["secret"] = secret
    return shown


def attempt_json(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "event_type": attempt.event_type,
        "status": attempt.status.value,
        "attempts": attempt.attempts,
        "response_code": attempt.response_code,
        "error": attempt.error,
        "created_at": attempt.created_at.isoformat(),
        "next_attempt_at": _time(attempt.next_attempt_at),
        "delivered_at": _time(attempt.delivered_at),
    }


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


@bp.get("/webhooks")
@document(
    "The project's outbound webhook endpoints",
    responses={200: {"type": "array", "items": ENDPOINT_OUT}},
    tags=TAGS,
)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_list() -> Response:
    return jsonify([endpoint_json(e) for e in endpoints.list_endpoints(g.project.id)])


@bp.post("/webhooks")
@document(
    "Add an endpoint; the answer shows its signing secret, once",
    description="Events are POSTed as JSON signed with X-Mailapp-Signature: "
    "v1=HMAC-SHA256(secret, '<X-Mailapp-Timestamp>.<body>'). Private targets are refused.",
    request=CREATE_IN,
    responses={201: WITH_SECRET, 422: ERROR},
    tags=TAGS,
)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_create() -> tuple[Response, int]:
    body = g.body
    endpoint, secret = endpoints.add_endpoint(
        g.project.id,
        body["url"],
        event_types=body.get("event_types"),
        active=body.get("active", True),
        allow_private=body.get("allow_private", False),
        actor=g.actor,
    )
    return jsonify(endpoint_json(endpoint, secret)), 201


@bp.get("/webhooks/<int:endpoint_id>")
@document("One endpoint (never its secret)", responses={200: ENDPOINT_OUT}, tags=TAGS)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_show(endpoint_id: int) -> Response:
    return jsonify(endpoint_json(endpoints.get_endpoint(g.project.id, endpoint_id)))


@bp.patch("/webhooks/<int:endpoint_id>")
@document(
    "Change an endpoint: only the keys sent change",
    request=UPDATE_IN,
    responses={200: ENDPOINT_OUT, 422: ERROR},
    tags=TAGS,
)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_update(endpoint_id: int) -> Response:
    endpoint = endpoints.update_endpoint(g.project.id, endpoint_id, g.body, actor=g.actor)
    return jsonify(endpoint_json(endpoint))


@bp.delete("/webhooks/<int:endpoint_id>")
@document("Remove an endpoint and its delivery history", responses={204: None}, tags=TAGS)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_delete(endpoint_id: int) -> tuple[str, int]:
    endpoints.delete_endpoint(g.project.id, endpoint_id, actor=g.actor)
    return "", 204


@bp.post("/webhooks/<int:endpoint_id>/secret")
@document(
    "Rotate the signing secret: the new one is shown in this answer only",
    description="The old secret stops working at once; give the new one to the receiver.",
    responses={200: WITH_SECRET},
    tags=TAGS,
)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_rotate(endpoint_id: int) -> Response:
    endpoint, secret = endpoints.rotate_secret(g.project.id, endpoint_id, actor=g.actor)
    return jsonify(endpoint_json(endpoint, secret))


@bp.get("/webhooks/<int:endpoint_id>/attempts")
@document(
    "An endpoint's delivery attempts, newest first, a page at a time",
    parameters=[
        {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "cursor"},
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": endpoints.MAX_ATTEMPTS_PAGE,
                "default": 50,
            },
        },
    ],
    responses={200: ATTEMPT_PAGE},
    tags=TAGS,
)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_attempts(endpoint_id: int) -> Response:
    limit = g.query.get("limit", 50)
    page = endpoints.recent_attempts(
        g.project.id, endpoint_id, before_id=g.query.get("after"), limit=limit
    )
    return jsonify(
        {
            "data": [attempt_json(a) for a in page],
            "next_cursor": page[-1].id if len(page) == limit else None,
        }
    )


@bp.post("/webhooks/<int:endpoint_id>/attempts/retry")
@document(
    "Send some attempts of this endpoint again now",
    description="Ids of other endpoints' attempts are ignored; the answer counts those queued.",
    request=RETRY_IN,
    responses={200: RETRY_OUT},
    tags=TAGS,
)
@require(Permission.WEBHOOKS_MANAGE)
def webhooks_retry(endpoint_id: int) -> Response:
    retried = endpoints.retry_endpoint_attempts(
        g.project.id, endpoint_id, g.body["attempt_ids"], actor=g.actor
    )
    return jsonify({"retried": retried})
