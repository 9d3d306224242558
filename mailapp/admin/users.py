"""The people of the current project: invite, change roles, deactivate, remove."""

from __future__ import annotations

from typing import Any

from flask import flash, g
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.actions import action
from flask_wtf import FlaskForm
from wtforms import Form, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Optional

from mailapp.access.login import clear_signin_delay
from mailapp.access.permissions import Permission
from mailapp.access.users import change_role, invite_user, remove_member, set_user_active
from mailapp.admin.base import ProjectModelView, int_ids
from mailapp.admin.context import current_actor, current_permissions, current_project
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Membership, Role

ROLE_CHOICES = [SelectChoice(r.value) for r in Role]


class InviteForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Email()])
    name = StringField("Name", validators=[Optional()])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MARKETER.value)


class MembershipAdmin(ProjectModelView):
    permission = Permission.USERS_MANAGE
    action_permissions = {
        "deactivate": Permission.USERS_MANAGE,
        "reactivate": Permission.USERS_MANAGE,
        "unlock": Permission.USERS_MANAGE,
    }

    column_list = [
        "user.email",
        "user.name",
        "role",
        "user.active",
        "user.last_login_at",
        "user.totp_enabled_at",
    ]
    column_labels = {
        "user.email": "Email",
        "user.name": "Name",
        "user.active": "Active",
        "user.last_login_at": "Last login",
        "user.totp_enabled_at": "Two-factor since",
    }
    column_searchable_list = ["user.email", "user.name"]
    column_filters = ["role", "user.active"]
    column_sortable_list = ["role", "user.email", "created_at"]
    column_details_list = [
        "user.email",
        "user.name",
        "role",
        "user.active",
        "user.last_login_at",
        "user.password_changed_at",
        "created_at",
    ]
    form_columns = ["role"]
    form_overrides = {"role": SelectField}
    form_args = {"role": {"choices": ROLE_CHOICES}}

    def get_create_form(self) -> type[Form]:
        return InviteForm

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> ResponseReturnValue:
        response = super().create_view()
        return self.show_secret_once(
            response,
            g.pop("new_user_password", None),
            title="User created",
            explanation=f"Give {g.pop('new_user_email', 'the new user')} this password to sign "
            "in; they can change it under their name in the menu.",
        )

    def create_model(self, form: Form) -> Any:
        try:
            membership, password = invite_user(
                current_project().id,
                form.email.data,
                role=form.role.data,
                name=form.name.data,
                actor=current_actor(),
                grantable=current_permissions(),
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        if password is not None:
            g.new_user_password = password
            g.new_user_email = membership.user.email
        return membership

    def save_changes(self, form: Form, model: Membership) -> Any:
        wanted = model.role
        db.session.rollback()  # the form wrote the new role; the service decides
        return change_role(
            current_project().id,
            model.id,
            wanted,
            actor=current_actor(),
            grantable=current_permissions(),
        )

    def remove(self, model: Membership) -> None:
        remove_member(
            current_project().id, model.id, actor=current_actor(), grantable=current_permissions()
        )

    def _set_active(self, ids: list[str], active: bool) -> None:
        done = 0
        for membership_id in int_ids(ids):
            try:
                set_user_active(
                    current_project().id,
                    membership_id,
                    active,
                    actor=current_actor(),
                    grantable=current_permissions(),
                )
                done += 1
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
        if done:
            flash(f"{done} user(s) {'reactivated' if active else 'deactivated'}.", "success")

    @action("deactivate", "Deactivate", "Deactivate the selected users' logins?")
    def action_deactivate(self, ids: list[str]) -> None:
        self._set_active(ids, active=False)

    @action("reactivate", "Reactivate")
    def action_reactivate(self, ids: list[str]) -> None:
        self._set_active(ids, active=True)

    @action(
        "unlock",
        "Clear sign-in delay",
        "Let the selected users try to sign in again at once (after many wrong passwords, "
        "sign-in waits up to a minute between tries)?",
    )
    def action_unlock(self, ids: list[str]) -> None:
        for membership_id in int_ids(ids):
            try:
                user = clear_signin_delay(
                    current_project().id, membership_id, actor=current_actor()
                )
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(f"{user.email} may sign in again.", "success")
