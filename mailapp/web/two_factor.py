"""The second sign-in step: a code from the authenticator app (or a recovery code), and the
set-up a project's "require two-factor" rule forces on members who have none yet."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from mailapp import crypto
from mailapp.access.audit import Actor
from mailapp.access.two_factor import (
    enable_two_factor,
    new_secret,
    provisioning_uri,
    qr_svg,
    verify_second_factor,
)
from mailapp.access.two_factor_policy import projects_requiring
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import User
from mailapp.web.signin import (
    finish_signin,
    known_device,
    open_signin,
    pending,
    remember_device,
    renew_session,
)

bp = Blueprint("two_factor", __name__, url_prefix="/login")

SETUP_KEY = "totp_setup"  # the secret being set up, encrypted (the session cookie is only signed)


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(message="Type the code.")])


def _pending_user(enrol: bool) -> User | None:
    state = pending()
    if state is None or bool(state.get("enrol")) != enrol:
        return None
    user = db.session.get(User, state["user_id"])
    return user if user is not None and user.active else None


def _start_over() -> ResponseReturnValue:
    renew_session()
    flash("Your sign-in took too long or was interrupted; sign in again.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    user = _pending_user(enrol=False)
    if user is None:
        return _start_over()
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        result = verify_second_factor(
            user, form.code.data, ip=request.remote_addr, device=known_device(user.email)
        )
        if result.user is not None:
            if result.method == "password+recovery":
                flash(
                    "You signed in with a recovery code; it will not work again. "
                    "Make new codes under My account if few are left.",
                    "warning",
                )
            return finish_signin(user, result.method, pending()["next"])
        if result.delayed:
            status = 429
            flash(f"Too many wrong codes. Wait {result.retry_text}, then try again.", "danger")
        else:
            status = 401
            form.code.errors = ["That code is not right. Type the current 6-digit code."]
    elif request.method == "POST":
        status = 400
    return render_template("public/login_code.html", form=form, email=user.email), status


@bp.route("/two-factor-setup", methods=["GET", "POST"])
def setup() -> ResponseReturnValue:
    user = _pending_user(enrol=True)
    if user is None:
        return _start_over()
    stored = session.get(SETUP_KEY)
    secret = crypto.decrypt(stored) if stored else new_secret()
    session[SETUP_KEY] = crypto.encrypt(secret)
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        next_url = pending()["next"]
        actor = Actor(label=user.email, user_id=user.id, ip=request.remote_addr)
        try:
            codes = enable_two_factor(user, secret, form.code.data, actor=actor)
        except ServiceError as exc:
            db.session.rollback()
            form.code.errors = [str(exc).removeprefix("code: ").capitalize()]
            status = 400
        else:
            open_signin(user, "password+totp")
            response = make_response(
                render_template("public/recovery_codes.html", codes=codes, next_url=next_url)
            )
            remember_device(response, user.email)
            response.headers["Cache-Control"] = "no-store"  # the codes are shown once
            return response
    elif request.method == "POST":
        status = 400
    uri = provisioning_uri(user.email, secret)
    response = make_response(
        render_template(
            "public/two_factor_setup.html",
            form=form,
            qr=qr_svg(uri),
            secret=secret,
            projects=projects_requiring(user.id),
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"  # the set-up key is on the page
    return response
