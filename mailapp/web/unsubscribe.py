"""/u/<token>: the unsubscribe page, RFC 8058 one-click POST, and the preference page.

GET never changes anything (mail scanners prefetch links). A POST carrying
`List-Unsubscribe=One-Click` comes from a mailbox provider, without cookies or a CSRF
token: it unsubscribes from everything at once and answers 200 without a redirect.
Every other POST comes from our own page and must carry the CSRF token. The link of a
test message (content.preview.signed_test_links) answers with a page saying so and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from mailapp.access.audit import Actor
from mailapp.content.preview import is_test_unsubscribe
from mailapp.errors import NotFound
from mailapp.extensions import csrf
from mailapp.feedback.unsubscribe import Subscriber, find_subscriber, unsubscribe

bp = Blueprint("unsubscribe", __name__)


def _subscriber(token: str) -> Subscriber | None:
    return find_subscriber(current_app.config["SECRET_KEY"], token)


def _invalid(token: str) -> ResponseReturnValue:
    if is_test_unsubscribe(token):
        # The link of a test message: nobody to unsubscribe, and nothing changes.
        return render_template("public/unsubscribe_test.html")
    return render_template("public/unsubscribe_invalid.html"), 404


def _actor(method: str) -> Actor:
    return Actor(label=f"recipient ({method})", ip=request.remote_addr)


@bp.get("/u/<token>")
def page(token: str) -> ResponseReturnValue:
    subscriber = _subscriber(token)
    if subscriber is None:
        return _invalid(token)
    return render_template("public/unsubscribe.html", subscriber=subscriber, token=token)


@bp.get("/u/<token>/preferences")
def preferences(token: str) -> ResponseReturnValue:
    subscriber = _subscriber(token)
    if subscriber is None:
        return _invalid(token)
    return render_template("public/preferences.html", subscriber=subscriber, token=token)


@bp.post("/u/<token>")
@csrf.exempt
def submit(token: str) -> ResponseReturnValue:
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        try:
            csrf.protect()
        except CSRFError:
            abort(400)
    subscriber = _subscriber(token)
    if subscriber is None:
        return _invalid(token)
    if one_click:
        unsubscribe(subscriber, method="one-click", actor=_actor("one-click"))
        return render_template(
            "public/unsubscribe_done.html", subscriber=subscriber, list_name=None
        )
    scope = request.form.get("scope", "all")
    list_id = None if scope == "all" else _int(scope)
    method = "preferences" if request.form.get("from") == "preferences" else "page"
    try:
        unsubscribe(subscriber, list_id=list_id, method=method, actor=_actor(method))
    except NotFound:
        abort(400)
    list_name = next((name for lid, name, _ in subscriber.lists if lid == list_id), None)
    return render_template(
        "public/unsubscribe_done.html", subscriber=subscriber, list_name=list_name
    )


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        abort(400)
