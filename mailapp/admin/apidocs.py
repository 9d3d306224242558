"""API docs: Swagger UI over the app's own OpenAPI document, served from the package's files.

The Swagger UI bundle comes with the `flask-swagger-ui` package (pinned in requirements.in);
its files are served from here so the page works without any CDN or internet access.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Response, redirect, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_login import current_user

from mailapp.access.permissions import DESCRIPTIONS, Permission

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})


class ApiDocsView(BaseView):
    """Needs only a login: the API's description is no secret (the JSON itself is public)."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name: str, **kwargs: object) -> ResponseReturnValue:
        return redirect(url_for("auth.login", next=request.path))

    @expose("/")
    def index(self) -> ResponseReturnValue:
        return self.render(
            "admin/api_docs.html",
            spec_url=url_for("api.openapi"),
            scopes=[(p.value, DESCRIPTIONS[p]) for p in Permission],
        )

    @expose("/swagger-ui/<path:filename>")
    def asset(self, filename: str) -> Response:
        if filename not in SWAGGER_UI_FILES:
            return Response("not found", status=404, mimetype="text/plain")
        response = send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
