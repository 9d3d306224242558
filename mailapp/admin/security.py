"""Settings → Security: the owner's "require two-factor sign-in for every member" rule, with
who has it set up."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.access.project_settings import recent_changes
from mailapp.access.two_factor_policy import members_two_factor, set_project_two_factor
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.errors import ServiceError
from mailapp.extensions import db


class SecurityView(ProjectView):
    # Owners only (and operators): the rule decides how every member signs in.
    permission = Permission.PROJECTS_MANAGE

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        project = current_project()
        error = None
        status = 200
        if request.method == "POST":
            wanted = "require_two_factor" in request.form
            try:
                ended = set_project_two_factor(project, wanted, actor=current_actor())
            except ServiceError as exc:
                db.session.rollback()
                error = str(exc).removeprefix("require_two_factor: ").capitalize()
                status = 400
            else:
                if wanted:
                    signed_out = f" {ended} session(s) without it were signed out." if ended else ""
                    flash(
                        "Two-factor sign-in is now required for every member."
                        f"{signed_out} Members who have not set it up do so at their next "
                        "sign-in.",
                        "success",
                    )
                else:
                    flash("Two-factor sign-in is no longer required.", "success")
                return redirect(url_for(".index"))
        members = members_two_factor(project.id)
        return self.render(
            "admin/settings_security.html",
            project=project,
            members=members,
            without=sum(1 for *_, enabled in members if not enabled),
            error=error,
            changes=recent_changes(project.id, "project.require_two_factor"),
        ), status
