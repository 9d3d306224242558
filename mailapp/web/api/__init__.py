"""The REST API at /api/v1: Bearer API keys, the role permission table as scopes, JSON errors.

Endpoint modules live next to this one (`mailapp/web/api/<area>.py`) and are imported at the
bottom, so they can use `bp`, `require`, `document` and `api_error` from here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from mailapp.access.apikeys import KeyProblem, authenticate_api_key
from mailapp.access.audit import Actor, record_refusal
from mailapp.access.permissions import DESCRIPTIONS, Permission
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import csrf, db
from mailapp.models import Project
from mailapp.runtime.logs import bind_request_ids

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
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


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
            return view(*args, **kwargs)

        wrapper.api_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


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
) -> Callable[[F], F]:
    """Describe an endpoint for /api/v1/openapi.json.

    `request` and each of `responses` are JSON Schemas of the body (None: no body).
    """

    def decorator(view: F) -> F:
        view.openapi = {  # type: ignore[attr-defined]
            "summary": summary,
            "description": description,
            "request": request,
            "responses": responses or {200: None},
            "parameters": parameters or [],
            "tags": tags,
        }
        return view

    return decorator


_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
_PARAM_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every documented API endpoint in the URL map."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith(f"{bp.name}."):
            continue
        view = current_app.view_functions[rule.endpoint]
        spec = getattr(view, "openapi", None)
        if spec is None:
            continue
        path = _CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        path_params = [
            {
                "name": m["name"],
                "in": "path",
                "required": True,
                "schema": _PARAM_TYPES.get(m["conv"] or "", {"type": "string"}),
            }
            for m in _CONVERTER.finditer(rule.rule)
        ]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, view, spec, path_params
            )
    return {
        "openapi": "3.1.0",
        "info": {"title": "mailapp API", "version": "1"},
        # Paths carry the /api/v1 prefix themselves, so the server is the site itself.
        "servers": [{"url": current_app.config["BASE_URL"]}],
        "paths": {p: paths[p] for p in sorted(paths)},
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key; its scopes are permissions: "
                    + "; ".join(f"{p.value}: {DESCRIPTIONS[p]}" for p in Permission),
                }
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }


def _operation(
    endpoint: str, view: Callable[..., Any], spec: dict[str, Any], path_params: list[dict]
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.removeprefix(f"{bp.name}."),
        "summary": spec["summary"],
        "parameters": path_params + spec["parameters"],
        "responses": {
            str(status): _response(schema) for status, schema in sorted(spec["responses"].items())
        },
    }
    if spec["description"]:
        operation["description"] = spec["description"]
    if spec["tags"]:
        operation["tags"] = spec["tags"]
    if spec["request"] is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": spec["request"]}},
        }
    permission = getattr(view, "api_permission", None)
    if permission is not None:
        operation["security"] = [{"apiKey": []}]
        operation["x-required-scope"] = permission.value
        error = _response({"$ref": "#/components/schemas/Error"})
        operation["responses"].setdefault("401", error)
        operation["responses"].setdefault("403", error)
    return operation


def _response(schema: dict[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return {"description": "OK"}
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


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
    campaigns,
    contact_tags,
    contacts,
    lists,
    message_log,
    messages,
    segments,
    settings,
    suppression,
)
