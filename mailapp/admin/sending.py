"""The project's sending desk: the emergency stop, today's quota use, running campaigns."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.delivery.campaigns import allow_sending, campaign_progress, stop_all_sending
from mailapp.delivery.ratelimits import quota_used_today
from mailapp.extensions import db, get_redis
from mailapp.models import Campaign, CampaignStatus


class SendingView(ProjectView):
    permission = Permission.CAMPAIGNS_SEND

    @expose("/")
    def index(self) -> ResponseReturnValue:
        project = current_project()
        running = db.session.scalars(
            sa.select(Campaign)
            .where(
                Campaign.project_id == project.id,
                Campaign.status.in_(
                    (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)
                ),
            )
            .order_by(Campaign.id.desc())
        ).all()
        return self.render(
            "admin/sending.html",
            project=project,
            quota=(project.settings or {}).get("quota_messages_per_day"),
            used=quota_used_today(get_redis(), project.id),
            campaigns=[(c, campaign_progress(project.id, c.id)) for c in running],
        )

    # GET shows the page (changes nothing); POST stops or allows sending.
    @expose("/stop", methods=["GET", "POST"])
    def stop(self) -> ResponseReturnValue:
        if request.method == "POST":
            project = current_project()
            if request.form.get("verb") == "allow":
                allow_sending(project, actor=current_actor())
                flash("Sending allowed again; resume paused campaigns one by one.", "success")
            else:
                paused = stop_all_sending(project, actor=current_actor())
                flash(f"All sending stopped; {paused} campaign(s) paused.", "warning")
        return redirect(url_for(".index"))
