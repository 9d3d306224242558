"""Guardrails of a campaign: canary share and the bounce/complaint rates that pause it.

A page of its own (linked from the campaign list of unfinished campaigns) so the campaign
flow's views stay untouched.
"""

from __future__ import annotations

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
from mailapp.delivery.canary import canary_state
from mailapp.delivery.guardrail_settings import (
    FIELDS,
    FINISHED,
    GUARDRAIL_HELP,
    STARTED,
    guardrail_values,
    set_guardrails,
)
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Campaign

LABELS = {
    "canary_percent": "Canary share (%)",
    "canary_minutes": "Observation time after the canary (minutes)",
    "max_bounce_percent": "Pause above hard bounces (%)",
    "max_complaint_percent": "Pause above complaints (%)",
    "min_sample": "Minimum sample",
}


class GuardrailsView(ProjectView):
    permission = Permission.CAMPAIGNS_WRITE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        campaigns = db.session.scalars(
            sa.select(Campaign)
            .where(Campaign.project_id == current_project().id, Campaign.status.not_in(FINISHED))
            .order_by(Campaign.id.desc())
            .limit(200)
        ).all()
        rows = [(c, guardrail_values(c)) for c in campaigns]
        return self.render("admin/settings_guardrails_list.html", rows=rows)

    @expose("/<campaign_id>/", methods=("GET", "POST"))
    def edit(self, campaign_id: str) -> ResponseReturnValue:
        project = current_project()
        campaign = db.session.scalar(
            sa.select(Campaign).where(
                Campaign.id == url_id(campaign_id), Campaign.project_id == project.id
            )
        )
        if campaign is None:
            abort(404)
        values = guardrail_values(campaign)
        errors: dict[str, str] = {}
        if request.method == "POST":
            posted = {f: request.form.get(f, "") for f in FIELDS}
            try:
                changed = set_guardrails(project, campaign.id, posted, actor=current_actor())
            except InvalidSettings as exc:
                db.session.rollback()
                errors, values = exc.errors, {**values, **posted}
                flash("Nothing was saved: correct the fields marked below.", "error")
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(
                    f"Guardrails saved: {', '.join(LABELS[k] for k in changed)}."
                    if changed
                    else "Nothing changed.",
                    "success" if changed else "info",
                )
                return redirect(url_for(".edit", campaign_id=campaign.id))
        return self.render(
            "admin/settings_guardrails.html",
            campaign=campaign,
            values=values,
            errors=errors,
            help=GUARDRAIL_HELP,
            started=campaign.status in STARTED,
            finished=campaign.status in FINISHED,
            changes=recent_changes(project.id, "campaign.guardrails", object_id=campaign.id),
            labels=LABELS,
            canary=canary_state(campaign),
        )
