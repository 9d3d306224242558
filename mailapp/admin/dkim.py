"""DKIM keys of the project's senders: generate one, see the DNS record to publish."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.urlargs import post_only, url_id
from mailapp.delivery.senders import (
    dkim_dns_record,
    dkim_record_name,
    dkim_txt_strings,
    generate_sender_key,
)
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Sender


class DkimView(ProjectView):
    permission = Permission.SENDERS_MANAGE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        senders = db.session.scalars(
            sa.select(Sender).where(Sender.project_id == current_project().id).order_by(Sender.id)
        ).all()
        rows = [
            (s, dkim_record_name(s), dkim_txt_strings(dkim_dns_record(s.dkim_private_key)))
            if s.dkim_private_key and s.dkim_selector
            else (s, None, None)
            for s in senders
        ]
        return self.render("admin/dkim.html", rows=rows)

    @expose("/<sender_id>/generate", methods=("GET", "POST"))
    def generate(self, sender_id: str) -> ResponseReturnValue:
        post_only()
        try:
            sender = generate_sender_key(
                current_project(), url_id(sender_id), actor=current_actor()
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(
                f"New key for {sender.from_email} under selector {sender.dkim_selector}: "
                "publish its DNS record before sending.",
                "success",
            )
        return redirect(url_for(".index"))
