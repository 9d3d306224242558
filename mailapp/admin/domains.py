"""Settings → Domain set-up: per sender, the DNS records to publish and their live check."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.urlargs import post_only, url_id
from mailapp.delivery.domain_setup import (
    CHECK_LABELS,
    check_sender_domain,
    current_results,
    our_spf,
    records_to_publish,
)
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.insights.compliance import sender_compliance
from mailapp.models import Sender

LEVEL_WORDS = {"ok": "Good", "warning": "Worth fixing", "error": "Must fix"}


class DomainSetupView(ProjectView):
    permission = Permission.SENDERS_MANAGE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        senders = db.session.scalars(
            sa.select(Sender).where(Sender.project_id == current_project().id).order_by(Sender.id)
        ).all()
        return self.render("admin/domain_setup_list.html", senders=senders, words=LEVEL_WORDS)

    @expose("/<sender_id>/")
    def sender(self, sender_id: str) -> ResponseReturnValue:
        sender = db.session.scalar(
            sa.select(Sender).where(
                Sender.id == url_id(sender_id), Sender.project_id == current_project().id
            )
        )
        if sender is None:
            abort(404)
        verification = sender.verification or {}
        return self.render(
            "admin/domain_setup.html",
            sender=sender,
            records=records_to_publish(sender),
            verification=verification,
            checked_at=(verification.get("checked_at") or "")[:16].replace("T", " "),
            labels=CHECK_LABELS,
            words=LEVEL_WORDS,
            spf_configured=bool(our_spf()),
            stale=bool(verification.get("results")) and current_results(sender) is None,
            compliance=sender_compliance(current_project(), sender),
        )

    @expose("/<sender_id>/check", methods=("GET", "POST"))
    def check(self, sender_id: str) -> ResponseReturnValue:
        post_only()
        try:
            result = check_sender_domain(
                current_project(), url_id(sender_id), actor=current_actor()
            )
        except NotFound:
            abort(404)
        problems = sum(1 for r in result["results"] if r["level"] != "ok")
        flash(
            "Checked just now: everything is in place."
            if not problems
            else f"Checked just now: {problems} thing(s) to fix, listed below.",
            "success" if not problems else "warning",
        )
        return redirect(url_for(".sender", sender_id=sender_id))
