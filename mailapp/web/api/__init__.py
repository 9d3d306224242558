"""The REST API at /api/v1: Bearer API keys, the role permission table as scopes, JSON errors.

Endpoint modules live next to this one (`mailapp/web/api/<area>.py`) and are imported at the
bottom, so they can use `bp`, `require`, `document` and `api_error` from here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from mailapp.access.apikeys import KeyProblem, authenticate_api_key
from mailapp.access.audit import Actor, record_refusal
from mailapp.access.permissions import Permission
from mailapp.access.validation import InvalidSettings
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import csrf, db
from mailapp.models import Project
from mailapp.runtime.logs import bind_request_ids
from mailapp.web.api.schema import (
    REF_PREFIX,
    ResponseMismatch,
    check_body,
    check_response,
    query_values,
    register_components,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

F = TypeVar("F", bound=Callable[..., Any])

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "each wrong field and what is wrong with it",
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}
ERROR = {"$ref": f"{REF_PREFIX}Error"}
register_components({"Error": ERROR_SCHEMA})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def api_error(status: int, code: str, message: str) -> Response:
    """A JSON error: {"error": {"code": ..., "message": ...}} with the given status."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mailapp"'
    return response


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require(permission: Permission) -> Callable[[F], F]:
    """Authenticate the request's API key and demand one permission among its scopes.

    Sets `g.api_key`, `g.project` (the key's project: every handler scopes to it) and
    `g.actor`. Bad keys answer 401, missing scopes 403; both leave an audit entry.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ip = request.remote_addr
            check = authenticate_api_key(_bearer_token())
            if check.problem is not None:
                if check.problem is not KeyProblem.MISSING:
                    key = check.api_key
                    record_refusal(
                        Actor(label=f"api key {key.prefix}…" if key else "api", ip=ip),
                        "api.auth_refused",
                        project_id=key.project_id if key else None,
                        context={"reason": check.problem.value, "path": request.path},
                    )
                return api_error(401, "unauthorized", _AUTH_MESSAGES[check.problem])
            key = check.api_key
            actor = Actor(label=f"api key {key.name} ({key.prefix}…)", api_key_id=key.id, ip=ip)
            if permission.value not in key.scopes:
                record_refusal(
                    actor,
                    "api.forbidden",
                    project_id=key.project_id,
                    context={"permission": permission.value, "path": request.path},
                )
                return api_error(403, "forbidden", f"this key lacks the scope {permission}")
            g.api_key = key
            g.project = db.session.get(Project, key.project_id)
            g.actor = actor
            bind_request_ids(project_id=key.project_id)
            refused = _check_request()
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        wrapper.api_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def _spec() -> dict[str, Any] | None:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "openapi", None)


def _check_request() -> Response | None:
    """Check the query and body against the endpoint's declaration (422 names each field).

    The checked values are `g.query` (converted to their types) and `g.body`.
    """
    spec = _spec()
    g.query, g.body = {}, None
    if spec is None:
        return None
    g.query = query_values(spec["parameters"], request.args)
    if spec["request"] is not None and request.method in BODY_METHODS:
        if spec["form"]:
            check_body(spec["request"], request.form.to_dict() | dict.fromkeys(request.files, ""))
            return None
        body = request.get_json(silent=True)
        if body is None:
            return api_error(
                400, "bad_request", "send a JSON body (Content-Type: application/json)"
            )
        check_body(spec["request"], body)
        g.body = body
    return None


_AUTH_MESSAGES = {
    KeyProblem.MISSING: "send an API key as 'Authorization: Bearer <key>'",
    KeyProblem.UNKNOWN: "this API key is not valid",
    KeyProblem.REVOKED: "this API key has been revoked",
    KeyProblem.EXPIRED: "this API key has expired",
}


def document(
    summary: str,
    *,
    request: dict[str, Any] | None = None,
    responses: dict[int, dict[str, Any] | None] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    form: bool = False,
) -> Callable[[F], F]:
    """Declare an endpoint: its OpenAPI description, and the checks of its requests and responses.

    `request` and each of `responses` are JSON Schemas of the body (None: no body); `form`
    says the request is multipart/form-data (a file upload) rather than JSON.
    """

    def decorator(view: F) -> F:
        view.openapi = {  # type: ignore[attr-defined]
            "summary": summary,
            "description": description,
            "request": request,
            "form": form,
            "responses": responses or {200: None},
            "parameters": parameters or [],
            "tags": tags,
        }
        return view

    return decorator


@bp.after_request
def _check_documented(response: Response) -> Response:
    """With API_CHECK_RESPONSES (tests), a JSON answer outside its documented schema fails."""
    if not current_app.config.get("API_CHECK_RESPONSES") or not response.is_json:
        return response
    spec = _spec()
    if spec is None:
        return response
    status = response.status_code
    where = f"{request.method} {request.url_rule} ({status})"
    if status in spec["responses"]:
        check_response(spec["responses"][status], response.get_json(), where)
    elif status >= 400:
        check_response(ERROR_SCHEMA, response.get_json(), where)
    else:
        raise ResponseMismatch(f"{where}: status {status} is not documented")
    return response


@bp.errorhandler(InvalidSettings)
def _invalid(exc: InvalidSettings) -> Response:
    db.session.rollback()
    response = jsonify({"error": {"code": "invalid", "message": str(exc), "fields": exc.errors}})
    response.status_code = 422
    return response


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> Response:
    db.session.rollback()
    return api_error(404, "not_found", str(exc))


@bp.errorhandler(ServiceError)
def _refused(exc: ServiceError) -> Response:
    db.session.rollback()
    return api_error(422, "invalid", str(exc))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    return api_error(exc.code or 500, code, exc.description or exc.name)


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _unknown_api_route(exc: HTTPException) -> Response | HTTPException:
    """Unknown paths and methods under /api/v1 answer JSON too; elsewhere the usual page."""
    if request.path.startswith(f"{bp.url_prefix}/"):
        return _http_error(exc)
    return exc


# Endpoint modules register their routes on `bp` when imported (keep this block last).
from mailapp.web.api import (  # noqa: E402, F401
    access,
    alerts,
    assets,
    brand,
    campaigns,
    contact_tags,
    contacts,
    domains,
    events,
    imports,
    inbound,
    journeys,
    lists,
    message_log,
    messages,
    openapi,
    segments,
    sender_transports,
    senders,
    settings,
    suppression,
    templates,
    webhooks,
)
