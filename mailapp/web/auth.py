"""Back-office login (throttled), logout and password change; CSRF on every form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from mailapp.access.audit import Actor
from mailapp.access.login import authenticate
from mailapp.access.users import MIN_PASSWORD_LENGTH, change_password
from mailapp.errors import ServiceError
from mailapp.extensions import db, login_manager
from mailapp.models import User

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
    """A deactivated user's open sessions end with their next request."""
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = authenticate(form.email.data, form.password.data, ip=request.remote_addr)
        if result.user is not None:
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
        if result.locked:
            status = 429
            flash(
                "Too many failed attempts. Sign-in is locked for "
                f"{result.retry_minutes} minute(s); try again later.",
                "danger",
            )
        else:
            status = 401
            flash("Wrong email or password.", "danger")
    elif request.method == "POST":
        status = 400
    return render_template("public/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password_page() -> ResponseReturnValue:
    form = PasswordForm()
    if form.validate_on_submit():
        actor = Actor(label=current_user.email, user_id=current_user.id, ip=request.remote_addr)
        try:
            change_password(current_user, form.current.data, form.new.data, actor=actor)
        except ServiceError as exc:
            db.session.rollback()
            form.current.errors.append(str(exc))
        else:
            flash("Your password has been changed.", "success")
            return redirect(url_for("admin.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/password.html", form=form), status


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not become an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.index")
