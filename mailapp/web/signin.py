"""What the sign-in pages share: the `next` target, the pending second step, the known-device
cookie, and finishing a sign-in into a server-side session."""

from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import urlsplit

from flask import Response, abort, current_app, g, redirect, request, session, url_for
from flask_login import login_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from mailapp.access.audit import Actor
from mailapp.access.sessions import SESSION_KEY, start_session
from mailapp.models import User

PENDING_KEY = "signin_pending"
PENDING_SECONDS = 10 * 60  # password accepted, second step not done: this long at most
DEVICE_COOKIE = "mailapp_device"
DEVICE_DAYS = 180
DEVICE_ACCOUNTS = 5  # accounts one browser remembers having signed in to


def safe_next(target: str | None) -> str:
    """Only a path on this site, judged as a browser reads it: browsers drop tabs and line
    breaks inside URLs and read a backslash as a slash, so `/\\t/evil` and `/\\evil` are
    both `//evil` to them. Anything doubtful goes to the back office home."""
    if not target:
        return url_for("admin.index")
    if any(ch in target for ch in "\r\n"):
        abort(400, description="next: a line break is not allowed in the address to go to")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\\" for ch in target):
        return url_for("admin.index")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return url_for("admin.index")
    return target


def renew_session() -> None:
    """Start the browser's session afresh at each step of signing in or out; the CSRF token
    goes with it (Flask-WTF also caches it for the request in `g`)."""
    session.clear()
    g.pop("csrf_token", None)


def begin_pending(user: User, next_url: str, *, enrol: bool) -> None:
    """Remember, for a few minutes, a password that was right while the second step runs."""
    renew_session()
    session[PENDING_KEY] = {
        "user_id": user.id,
        "at": int(time.time()),
        "next": next_url,
        "enrol": enrol,
    }


def pending() -> dict | None:
    """The pending sign-in of this browser, unless it is too old."""
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict) or time.time() - state.get("at", 0) > PENDING_SECONDS:
        return None
    return state


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def _account_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:20]


def _device() -> tuple[str | None, list[str]]:
    """This browser's known-device id and the accounts it signed in to (none if unsigned)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None, []
    try:
        value = _serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None, []
    if not isinstance(value, dict) or not isinstance(value.get("accounts"), list):
        return None, []
    return str(value.get("id") or "") or None, [a for a in value["accounts"] if isinstance(a, str)]


def known_device(email: str) -> str | None:
    """This browser's device id when it signed in to the account before (signed cookie)."""
    device, accounts = _device()
    return device if device and _account_digest(email) in accounts else None


def open_signin(user: User, method: str) -> None:
    """Open the server-side session and sign the browser in (its cookie gets the token)."""
    renew_session()
    token = start_session(
        user,
        method=method,
        ip=request.remote_addr,
        user_agent=request.user_agent.string,
        actor=Actor(label=user.email, user_id=user.id, ip=request.remote_addr),
    )
    session[SESSION_KEY] = token
    login_user(user)


def finish_signin(user: User, method: str, next_url: str) -> Response:
    """Sign in, go where the person was going, and remember this browser for the account."""
    open_signin(user, method)
    response = redirect(next_url)
    remember_device(response, user.email)
    return response


def remember_device(response: Response, email: str) -> None:
    """Add the account to this browser's known-device cookie (newest first, a few kept)."""
    digest = _account_digest(email)
    device, accounts = _device()
    accounts = [digest, *[a for a in accounts if a != digest]][:DEVICE_ACCOUNTS]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps({"id": device or secrets.token_urlsafe(16), "accounts": accounts}),
        max_age=DEVICE_DAYS * 86400,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
