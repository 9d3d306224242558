"""The project's sending desk: the emergency stop, today's quota use, providers that asked
us to slow down (and when full speed returns), running campaigns."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.display import format_when
from mailapp.delivery.campaigns import allow_sending, campaign_progress, stop_all_sending
from mailapp.delivery.mx_providers import group_label
from mailapp.delivery.ratelimits import quota_used_today
from mailapp.delivery.throttles import Slowdown, slowdowns
from mailapp.extensions import db, get_redis
from mailapp.models import Campaign, CampaignStatus, Project, Sender
from mailapp.models.base import utcnow


def _per_second(rate: int) -> str:
    return "1 message a second" if rate == 1 else f"{rate} messages a second"


def _at(moment: datetime) -> str:
    return format_when(moment, "%H:%M")


def describe_slowdown(slowdown: Slowdown, sender_name: str) -> str:
    """One slow-down in plain words, times in the viewer's zone."""
    text = (
        f"{group_label(slowdown.group)}: slowed to {_per_second(slowdown.rate)} for sender "
        f"{sender_name} after a {slowdown.reason or '421'} reply at {_at(slowdown.since)}; "
    )
    if slowdown.next_step_at is not None:
        text += f"up to {slowdown.next_rate} at {_at(slowdown.next_step_at)}, "
    return text + f"back to full speed around {_at(slowdown.lifted_at)}."


def slowdown_lines(project: Project) -> list[str]:
    """The project's senders' slow-downs now, newest first."""
    names = dict(
        db.session.execute(
            sa.select(Sender.id, Sender.name).where(Sender.project_id == project.id)
        ).all()
    )
    found = slowdowns(get_redis(), set(names), utcnow())
    return [describe_slowdown(s, names[s.sender_id]) for s in found]


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
            slowdowns=slowdown_lines(project),
            step_seconds=current_app.config["THROTTLE_STEP_SECONDS"],
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
