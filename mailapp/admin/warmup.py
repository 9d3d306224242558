"""Settings → Warm-up: each sender's daily caps while its domain earns a reputation."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.access.project_settings import recent_changes
from mailapp.access.validation import InvalidSettings
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.urlargs import url_id
from mailapp.delivery.ratelimits import warmup_cap
from mailapp.delivery.senders import SUGGESTED_WARMUP, WARMUP_HELP, set_warmup_plan
from mailapp.extensions import db
from mailapp.models import Sender


class WarmupView(ProjectView):
    permission = Permission.SENDERS_MANAGE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        senders = db.session.scalars(
            sa.select(Sender).where(Sender.project_id == current_project().id).order_by(Sender.id)
        ).all()
        today = date.today()
        rows = [(s, warmup_cap(s, today)) for s in senders]
        return self.render("admin/settings_warmup_list.html", rows=rows, help=WARMUP_HELP)

    @expose("/<sender_id>/", methods=("GET", "POST"))
    def edit(self, sender_id: str) -> ResponseReturnValue:
        project = current_project()
        sender = db.session.scalar(
            sa.select(Sender).where(Sender.id == url_id(sender_id), Sender.project_id == project.id)
        )
        if sender is None:
            abort(404)
        plan = sender.warmup_plan or {}
        values = {
            "start": plan.get("start") or date.today().isoformat(),
            "daily_caps": ", ".join(str(c) for c in plan.get("daily_caps") or []),
        }
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = {k: request.form.get(k, "") for k in ("start", "daily_caps")}
            try:
                set_warmup_plan(project, sender.id, actor=current_actor(), **values)
            except InvalidSettings as exc:
                db.session.rollback()
                errors = exc.errors
                flash("Nothing was saved: correct the fields marked below.", "error")
            else:
                flash(f"Warm-up plan of {sender.from_email} saved.", "success")
                return redirect(url_for(".edit", sender_id=sender.id))
        return self.render(
            "admin/settings_warmup.html",
            sender=sender,
            values=values,
            errors=errors,
            help=WARMUP_HELP,
            suggested=", ".join(str(c) for c in SUGGESTED_WARMUP),
            today_cap=warmup_cap(sender, date.today()),
            changes=recent_changes(project.id, "sender.warmup", object_id=sender.id),
            labels={"warmup_plan": "Warm-up plan"},
        )
