"""The OpenAPI 3.1 document at /api/v1/openapi.json, made from the endpoints' declarations."""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, jsonify

from mailapp.access.permissions import DESCRIPTIONS, Permission
from mailapp.web.api import ERROR, ERROR_SCHEMA, bp

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
            str(status): _response(status, schema)
            for status, schema in sorted(spec["responses"].items())
        },
    }
    if spec["description"]:
        operation["description"] = spec["description"]
    if spec["tags"]:
        operation["tags"] = spec["tags"]
    if spec["request"] is not None:
        media = "multipart/form-data" if spec["form"] else "application/json"
        operation["requestBody"] = {
            "required": True,
            "content": {media: {"schema": spec["request"]}},
        }
    permission = getattr(view, "api_permission", None)
    if permission is not None:
        operation["security"] = [{"apiKey": []}]
        operation["x-required-scope"] = permission.value
        for status in ("401", "403") + (("422",) if spec["request"] or spec["parameters"] else ()):
            operation["responses"].setdefault(status, _response(status, ERROR))
    return operation


def _response(status: int | str, schema: dict[str, Any] | None) -> dict[str, Any]:
    described: dict[str, Any] = {"description": HTTPStatus(int(status)).phrase}
    if schema is not None:
        described["content"] = {"application/json": {"schema": schema}}
    return described


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
