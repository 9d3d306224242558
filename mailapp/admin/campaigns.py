"""Campaigns of the current project: created and edited as steps (campaign_flow), reviewed
and launched (campaign_review), then run from the details page.

The details page is the control room: every setting in words, when the mail goes out, pause,
resume, cancel, a progress bar that polls the live counts, the deliberate resend of `unknown`
rows (those a dead worker may or may not have handed over), duplicate and resend to the
people who did not open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView, int_ids
from mailapp.admin.campaign_display import STATUS_BADGES, goes_out, status_label
from mailapp.admin.campaign_flow import CampaignFlowMixin
from mailapp.admin.campaign_review import CampaignReviewMixin, campaign_summary, no_store
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.display import format_when
from mailapp.delivery.campaigns import (
    campaign_progress,
    cancel_campaign,
    pause_campaign,
    resend_unknown,
    resume_campaign,
)
from mailapp.delivery.eta import campaign_eta
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus
from mailapp.models.base import utcnow

# Details fields the progress poll refreshes in place.
LIVE_FIELDS = ("status", "paused_reason", "launched_at", "finished_at")
# Statuses whose mail is still to go out: the details page estimates when.
WAITING = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)


def live_text(campaign: Campaign, name: str) -> str:
    """A live field as the page shows it: status in words, times in the project's zone."""
    value = getattr(campaign, name)
    if value is None:
        return ""
    if name == "status":
        return status_label(value)
    if name in ("launched_at", "finished_at"):
        return format_when(value)
    return str(value)


def _status_cell(_view: Any, _context: Any, model: Campaign, _name: str) -> Markup:
    return Markup('<span class="badge badge-{}">{}</span>').format(
        STATUS_BADGES[model.status], status_label(model.status)
    )


def _goes_out_cell(_view: Any, _context: Any, model: Campaign, _name: str) -> str:
    return goes_out(current_project(), model, utcnow())


def _when_cell(_view: Any, _context: Any, model: Campaign, name: str) -> str:
    return format_when(getattr(model, name))


def _name_cell(_view: Any, _context: Any, model: Campaign, _name: str) -> Markup:
    href = url_for(".details_view", id=model.id)
    return Markup('<a href="{}">{}</a>').format(href, model.name)


CONTROLS: dict[str, Callable[..., Any]] = {
    "pause": pause_campaign,
    "resume": resume_campaign,
    "cancel": cancel_campaign,
    "resend_unknown": resend_unknown,
}
DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}
WRITE = Permission.CAMPAIGNS_WRITE


class CampaignAdmin(CampaignFlowMixin, CampaignReviewMixin, ProjectModelView):
    permission = Permission.CAMPAIGNS_WRITE
    action_permissions = {
        "pause": Permission.CAMPAIGNS_SEND,
        "resume": Permission.CAMPAIGNS_SEND,
        "cancel": Permission.CAMPAIGNS_SEND,
    }
    endpoint_permissions = {
        "launch_view": Permission.CAMPAIGNS_SEND,
        "review_checks_view": Permission.CAMPAIGNS_SEND,
        "control_view": Permission.CAMPAIGNS_SEND,
        "progress_view": WRITE,
        "audience_view": WRITE,
        "audience_count_view": WRITE,
        "content_view": WRITE,
        "schedule_view": WRITE,
        "review_preview_view": WRITE,
        "duplicate_view": WRITE,
        "resend_view": WRITE,
    }
    details_template = "admin/campaign_details.html"
    list_template = "admin/campaign_list.html"

    column_list = ["name", "status", "goes_out", "launched_at", "created_at"]
    column_labels = {
        "goes_out": "Mail goes out",
        "launched_at": "Launched",
        "created_at": "Created",
    }
    column_searchable_list = ["name"]
    column_filters = ["status", "created_at"]
    column_sortable_list = ["name", "status", "launched_at", "created_at"]
    column_formatters = {
        "name": _name_cell,
        "status": _status_cell,
        "goes_out": _goes_out_cell,
        "launched_at": _when_cell,
        "created_at": _when_cell,
    }

    def on_model_delete(self, model: Campaign) -> Any:
        if model.status is not CampaignStatus.DRAFT:
            raise ServiceError("Only draft campaigns can be deleted; cancel it instead.")

    # --- the control room ---------------------------------------------------------------
    # Ids arrive as strings; get_one() answers 404 for anything not in this project.
    @expose("/control/<campaign_id>", methods=["GET", "POST"])
    def control_view(self, campaign_id: str) -> ResponseReturnValue:
        """POST one control verb; a GET changes nothing and shows the campaign."""
        campaign = self.get_one(campaign_id)
        if request.method == "POST":
            verb = request.form.get("verb", "")
            if verb in CONTROLS:
                self._control(verb, campaign)
            else:
                flash("Unknown action.", "error")
        return redirect(self.get_url(".details_view", id=campaign.id))

    @expose("/progress/<campaign_id>")
    def progress_view(self, campaign_id: str) -> ResponseReturnValue:
        campaign = self.get_one(campaign_id)
        return jsonify(
            status=campaign.status.value,
            paused_reason=campaign.paused_reason,
            progress=campaign_progress(campaign.project_id, campaign.id),
            fields={name: live_text(campaign, name) for name in LIVE_FIELDS},
        )

    def _control(self, verb: str, campaign: Campaign) -> bool:
        try:
            result = CONTROLS[verb](current_project(), campaign.id, actor=current_actor())
        except ServiceError as exc:
            db.session.rollback()
            flash(f"{campaign.name}: {exc}", "error")
            return False
        if verb == "resend_unknown":
            flash(f"{campaign.name}: {result} unknown deliveries queued again.", "warning")
        else:
            flash(f"{campaign.name}: {DONE[verb]}.", "success")
        return True

    def _bulk(self, verb: str, ids: list[str]) -> None:
        for campaign in self.get_query().filter(Campaign.id.in_(int_ids(ids))).all():
            self._control(verb, campaign)

    @action("pause", "Pause", "Pause the selected campaigns?")
    def action_pause(self, ids: list[str]) -> None:
        self._bulk("pause", ids)

    @action("resume", "Resume", "Resume the selected campaigns?")
    def action_resume(self, ids: list[str]) -> None:
        self._bulk("resume", ids)

    @action("cancel", "Cancel", "Cancel the selected campaigns? Nothing more will be sent.")
    def action_cancel(self, ids: list[str]) -> None:
        self._bulk("cancel", ids)

    def render(self, template: str, **kwargs: Any) -> str:
        if template == self.details_template and kwargs.get("model") is not None:
            no_store()
            model = kwargs["model"]
            kwargs["progress"] = campaign_progress(model.project_id, model.id)
            kwargs["progress_url"] = url_for(".progress_view", campaign_id=model.id)
            kwargs["summary"] = campaign_summary(model)
            kwargs["eta"] = (
                campaign_eta(current_project(), model) if model.status in WAITING else None
            )
            kwargs["live"] = {name: live_text(model, name) for name in LIVE_FIELDS}
        return super().render(template, **kwargs)
