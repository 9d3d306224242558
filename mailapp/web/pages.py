"""The site root and the error pages people see: in the back-office layout, naming what is wrong.

400, 403, 404, 405 and 500 on back-office pages (and unknown URLs) are shown inside the back
office's layout, so a logged-in user keeps the navigation; an expired form (CSRF) says to
reload. API paths keep their JSON errors and the public pages (tracking, unsubscribe,
subscribe, assets, webhooks) keep Werkzeug's plain ones.
"""

from __future__ import annotations

import logging
import uuid

from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_admin.model import BaseModelView
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from mailapp.access.permissions import DESCRIPTIONS, ROLE_PERMISSIONS, Permission
from mailapp.extensions import db
from mailapp.web.api import api_error

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)
PUBLIC_BLUEPRINTS = frozenset(
    {"tracking", "unsubscribe", "subscribe", "assets", "webhooks", "browser_view", "health"}
)
TITLES = {
    400: "This request could not be handled",
    403: "You cannot open this page",
    404: "Page not found",
    405: "This page does not do that",
    500: "Something went wrong",
}


@bp.get("/")
def root() -> ResponseReturnValue:
    """The back office is the site: send people there (or to sign in first)."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("admin.index"))


class ErrorPage(BaseView):
    """Not a menu entry: lends the back-office layout (menu, project switcher) to error pages."""

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self) -> ResponseReturnValue:  # never routed: Flask-Admin wants a default view
        abort(404)


def init_app(app: Flask) -> None:
    """Register the root and the error handlers (after the API's, which this one defers to)."""
    app.register_blueprint(bp)
    for code in TITLES:
        app.register_error_handler(code, handle_error)


def handle_error(exc: HTTPException) -> ResponseReturnValue:
    """JSON for the API, the plain page for public routes, else the back-office error page."""
    code = exc.code or 500
    reference = _log_server_error(exc) if code == 500 else None
    if request.path.startswith("/api/"):
        name = (exc.name or "error").lower().replace(" ", "_")
        return api_error(code, name, exc.description or exc.name)
    if request.blueprint in PUBLIC_BLUEPRINTS:
        return exc
    try:
        return _render(exc, code, reference), code
    except Exception:  # the layout needs the database; an error page must not fail
        log.exception("could not render the %s page", code)
        db.session.rollback()
        return _bare(code, reference), code


def _log_server_error(exc: HTTPException) -> str:
    reference = uuid.uuid4().hex[:12]
    original = getattr(exc, "original_exception", None)
    log.error(
        "error %s: %s %s failed",
        reference,
        request.method,
        request.path,
        exc_info=(type(original), original, original.__traceback__) if original else None,
    )
    db.session.rollback()  # a failed statement leaves the session unusable for the layout
    return reference


def _render(exc: HTTPException, code: int, reference: str | None) -> str:
    admin = current_app.extensions["mailapp_admin"]
    page = ErrorPage(name=TITLES[code])
    page.admin = admin
    context: dict[str, object] = {"code": code, "title": TITLES[code], "reference": reference}
    if code == 403:
        context.update(_refusal(exc))
    if code in (404, 405):
        context.update(_missing())
    if code == 400:
        context["detail"] = _bad_request(exc)
    return page.render("admin/error.html", **context)


def _refusal(exc: HTTPException) -> dict[str, object]:
    """What the user lacks: the permission, the roles that grant it, their own role."""
    permission: Permission | None = getattr(exc, "permission", None)
    roles = [r.value for r, granted in ROLE_PERMISSIONS.items() if permission in granted]
    if len(roles) > 1:
        roles = [", ".join(roles[:-1]), roles[-1]]
    return {
        "permission": permission,
        "permission_text": DESCRIPTIONS.get(permission) if permission else None,
        "granting_roles": roles,
        "reason": getattr(exc, "reason", None),
    }


def _bad_request(exc: HTTPException) -> str:
    """What was wrong with the request, in words for the person who sent it."""
    if isinstance(exc, CSRFError):
        return (
            "The form had been open too long, or was sent from another page, so it was not "
            "saved. Go back, reload the page and send the form again."
        )
    return exc.description or "The request was malformed."


def _missing() -> dict[str, object]:
    """The back-office section the missing page was in, to offer a way back to it."""
    admin = current_app.extensions["mailapp_admin"]
    for view in admin._views:
        if view.endpoint == request.blueprint and view.endpoint != "admin":
            index = "index_view" if isinstance(view, BaseModelView) else "index"
            return {"section": view.name, "section_url": url_for(f"{view.endpoint}.{index}")}
    return {"section": None, "section_url": None}


def _bare(code: int, reference: str | None) -> str:
    ref = f"<p>Reference: <code>{escape(reference)}</code></p>" if reference else ""
    return (
        f"<!doctype html><title>{TITLES[code]}</title><h1>{TITLES[code]}</h1>{ref}"
        f'<p><a href="/admin/">Back to the back office</a></p>'
    )
