"""My account → sign-in security: two-factor sign-in (set up, new recovery codes, turn off)
and the person's open sessions, with "log out everywhere". Needs only a login."""

from __future__ import annotations

from flask import flash, g, make_response, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_login import current_user, logout_user

from mailapp import crypto
from mailapp.access.sessions import SESSION_KEY, is_current, log_out_everywhere, open_sessions
from mailapp.access.sessions import two_factor_required as required_for
from mailapp.access.two_factor import (
    disable_two_factor,
    enable_two_factor,
    new_secret,
    provisioning_uri,
    qr_svg,
    recovery_codes_left,
    regenerate_recovery_codes,
)
from mailapp.admin.context import current_actor
from mailapp.errors import ServiceError
from mailapp.extensions import db

SETUP_KEY = "totp_setup_account"  # the secret being set up, encrypted: the cookie is only signed


def _field_error(exc: ServiceError) -> tuple[str, str]:
    """(field, message) of a service error worded `field: message`."""
    field, _, message = str(exc).partition(": ")
    return (field, message.capitalize()) if message else ("", str(exc))


class AccountSecurityView(BaseView):
    """Everyone manages their own sign-in security (no menu entry: linked from My account)."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def is_visible(self) -> bool:
        return False

    def inaccessible_callback(self, name: str, **kwargs: object) -> ResponseReturnValue:
        return redirect(url_for("auth.login", next=request.path))

    def _setup_secret(self) -> str:
        stored = session.get(SETUP_KEY)
        secret = crypto.decrypt(stored) if stored else new_secret()
        session[SETUP_KEY] = crypto.encrypt(secret)
        return secret

    @expose("/", methods=("GET",))
    def index(self, errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
        token = session.get(SESSION_KEY)
        context: dict[str, object] = {
            "errors": errors or {},
            "required": required_for(current_user.id),
            "sessions": [
                (s, describe_agent(s.user_agent), is_current(s, token))
                for s in open_sessions(current_user)
            ],
        }
        if current_user.two_factor_enabled:
            context["codes_left"] = recovery_codes_left(current_user)
        else:
            secret = self._setup_secret()
            context.update(secret=secret, qr=qr_svg(provisioning_uri(current_user.email, secret)))
        response = make_response(self.render("admin/account_security.html", **context), status)
        response.headers["Cache-Control"] = "no-store"  # the set-up key is on the page
        return response

    def _codes_page(self, codes: list[str], title: str) -> ResponseReturnValue:
        response = make_response(self.render("admin/recovery_codes.html", codes=codes, title=title))
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/enable", methods=("POST",))
    def enable(self) -> ResponseReturnValue:
        secret = self._setup_secret()
        try:
            codes = enable_two_factor(
                current_user,
                secret,
                request.form.get("code", ""),
                actor=current_actor(),
                session_token=session.get(SESSION_KEY),
            )
        except ServiceError as exc:
            db.session.rollback()
            field, message = _field_error(exc)
            return self.index(errors={field or "code": message}, status=400)
        session.pop(SETUP_KEY, None)
        return self._codes_page(codes, "Two-factor sign-in is on")

    @expose("/recovery-codes", methods=("POST",))
    def recovery_codes(self) -> ResponseReturnValue:
        try:
            codes = regenerate_recovery_codes(
                current_user, request.form.get("password", ""), actor=current_actor()
            )
        except ServiceError as exc:
            db.session.rollback()
            _, message = _field_error(exc)
            return self.index(errors={"codes_password": message}, status=400)
        return self._codes_page(codes, "New recovery codes (the old ones no longer work)")

    @expose("/disable", methods=("POST",))
    def disable(self) -> ResponseReturnValue:
        try:
            disable_two_factor(
                current_user, request.form.get("password", ""), actor=current_actor()
            )
        except ServiceError as exc:
            db.session.rollback()
            _, message = _field_error(exc)
            return self.index(errors={"disable_password": message}, status=400)
        flash("Two-factor sign-in is off.", "success")
        return redirect(url_for(".index"))

    @expose("/logout-everywhere", methods=("POST",))
    def logout_everywhere(self) -> ResponseReturnValue:
        ended = log_out_everywhere(current_user, actor=current_actor())
        logout_user()
        session.clear()
        g.pop("csrf_token", None)  # the next form gets a token of the new session
        flash(f"You were signed out everywhere ({ended} session(s)). Sign in again.", "info")
        return redirect(url_for("auth.login"))


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def describe_agent(agent: str | None) -> str:
    """A person-readable name for a browser's User-Agent, e.g. "Firefox on Windows"."""
    agent = agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), "A browser")
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    return f"{browser} on {system}" if system else browser
