"""Back-office sign-in (password, then a second factor when the person has one), logout and
password change; CSRF on every form, sessions kept on the server (`access.sessions`)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from mailapp.access.audit import Actor
from mailapp.access.login import authenticate
from mailapp.access.sessions import (
    SESSION_KEY,
    end_session,
    load_session_user,
    two_factor_required,
)
from mailapp.access.users import MIN_PASSWORD_LENGTH, change_password
from mailapp.errors import ServiceError
from mailapp.extensions import db, login_manager
from mailapp.models import User
from mailapp.web.signin import begin_pending, finish_signin, known_device, renew_session, safe_next

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, message=f"At least {MIN_PASSWORD_LENGTH} characters."),
        ],
    )
    confirm = PasswordField(
        "New password, again",
        validators=[DataRequired(), EqualTo("new", message="The two passwords differ.")],
    )


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Only while the browser's server-side session is open (ended sessions open nothing)."""
    return load_session_user(user_id, session.get(SESSION_KEY))


def _actor(user: User) -> Actor:
    return Actor(label=user.email, user_id=user.id, ip=request.remote_addr)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data
        result = authenticate(
            email, form.password.data, ip=request.remote_addr, device=known_device(email)
        )
        user = result.user
        if user is not None:
            if user.two_factor_enabled:
                begin_pending(user, next_url, enrol=False)
                return redirect(url_for("two_factor.code"))
            if two_factor_required(user.id):
                begin_pending(user, next_url, enrol=True)
                return redirect(url_for("two_factor.setup"))
            return finish_signin(user, "password", next_url)
        if result.delayed:
            status = 429
            flash(f"Too many failed attempts. Wait {result.retry_text}, then try again.", "danger")
        else:
            status = 401
            flash("Wrong email or password.", "danger")
    elif request.method == "POST":
        status = 400
    return render_template("public/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    end_session(session.get(SESSION_KEY), actor=_actor(current_user))
    logout_user()
    renew_session()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password_page() -> ResponseReturnValue:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            ended = change_password(
                current_user,
                form.current.data,
                form.new.data,
                actor=_actor(current_user),
                keep_session=session.get(SESSION_KEY),
            )
        except ServiceError as exc:
            db.session.rollback()
            form.current.errors.append(str(exc))
        else:
            others = f" {ended} other session(s) were signed out." if ended else ""
            flash(f"Your password has been changed.{others}", "success")
            return redirect(url_for("admin.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/password.html", form=form), status
