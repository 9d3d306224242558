"""The hosted subscribe form of a public list and the double opt-in confirmation link."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional

from mailapp.access.audit import Actor
from mailapp.audience.lists import get_list_by_token
from mailapp.audience.subscriptions import (
    allow_attempt,
    confirm_subscription,
    read_confirmation,
    subscribe,
)
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import csrf, get_redis

bp = Blueprint("subscribe", __name__)
FORM_VERSION = "hosted-1"


class SubscribeForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    first_name = StringField("First name", validators=[Optional(), Length(max=200)])
    consent = BooleanField("I agree")
    # Hidden from people by CSS; bots fill every field they find.
    website = StringField("Leave this empty", validators=[Optional()])


class ConfirmForm(FlaskForm):
    pass


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@bp.route("/subscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def form(token: str) -> ResponseReturnValue:
    """The hosted form; it also takes posts from the embed code pasted on other websites.

    Those cannot carry our CSRF token, and need not: the form acts for nobody logged in, and
    the honeypot, the rate limit and (on double opt-in lists) the confirmation mail guard it.
    """
    try:
        mailing_list = get_list_by_token(token)
    except NotFound:
        abort(404)
    if not mailing_list.is_public:
        abort(404)
    form = SubscribeForm(meta={"csrf": request.method != "POST"})
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("public/subscribe.html", form=form, list=mailing_list), status
    if form.website.data:
        return render_template("public/subscribe_done.html", list=mailing_list, double=True)
    if mailing_list.consent_text and not form.consent.data:
        form.consent.errors = ["Please agree to receive this list."]
        return render_template("public/subscribe.html", form=form, list=mailing_list), 400
    limit = current_app.config.get("SUBSCRIBE_RATE_LIMIT", (10, 3600))
    if not allow_attempt(get_redis(), "subscribe", _client_ip(), *limit):
        return render_template(
            "public/subscribe.html", form=form, list=mailing_list, limited=True
        ), 429
    try:
        result = subscribe(
            mailing_list.project_id,
            mailing_list.id,
            {"email": form.email.data, "first_name": form.first_name.data},
            actor=Actor(label="subscribe form", ip=_client_ip()),
            source="form",
            ip=_client_ip(),
            user_agent=request.user_agent.string,
            form_version=FORM_VERSION,
        )
    except ServiceError as exc:
        form.email.errors = [str(exc)]
        return render_template("public/subscribe.html", form=form, list=mailing_list), 400
    return render_template(
        "public/subscribe_done.html", list=mailing_list, double=result.needs_confirmation
    )


@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> ResponseReturnValue:
    """GET shows a button, POST confirms: link scanners that prefetch mail links only GET."""
    try:
        read_confirmation(token)
    except ServiceError as exc:
        return render_template("public/confirm.html", error=str(exc)), 410
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("public/confirm.html", form=form, confirmed=False)
    try:
        membership = confirm_subscription(
            token, ip=_client_ip(), user_agent=request.user_agent.string
        )
    except ServiceError as exc:
        return render_template("public/confirm.html", error=str(exc)), 410
    return render_template("public/confirm.html", confirmed=True, membership=membership)
