"""My account: what a back-office user sets for themselves (the time zone times are shown in)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from mailapp.access.preferences import set_user_timezone, zone_names
from mailapp.admin.context import current_actor, current_project_or_none
from mailapp.admin.display import format_when
from mailapp.errors import ServiceError
from mailapp.extensions import db


class AccountForm(FlaskForm):
    timezone = SelectField("Time zone", validate_choice=False)


class AccountView(BaseView):
    """Needs only a login: everyone may set their own preferences (no menu entry)."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def is_visible(self) -> bool:
        return False

    def inaccessible_callback(self, name: str, **kwargs: object) -> ResponseReturnValue:
        return redirect(url_for("auth.login", next=request.path))

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        project = current_project_or_none()
        project_zone = project.timezone if project is not None else "UTC"
        form = AccountForm()
        form.timezone.choices = [SelectChoice("", f"The project's zone ({project_zone})")] + [
            SelectChoice(z, z.replace("_", " ")) for z in zone_names()
        ]
        if request.method == "GET":
            form.timezone.data = current_user.timezone or ""
        status = 200
        if form.validate_on_submit():
            try:
                set_user_timezone(current_user, form.timezone.data, actor=current_actor())
            except ServiceError as exc:
                db.session.rollback()
                form.timezone.errors = [str(exc)]
                status = 400
            else:
                flash(f"Times are now shown as {format_when(datetime.now(UTC))}.", "success")
                return redirect(url_for(".index"))
        elif request.method == "POST":
            status = 400
        return self.render(
            "admin/account.html", form=form, project_zone=project_zone, now=datetime.now(UTC)
        ), status
