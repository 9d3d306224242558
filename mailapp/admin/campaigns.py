"""Campaigns of the current project; only drafts are edited here, launching is a service.

The details page is the control room: pre-flight checklist and launch, pause, resume,
cancel, a progress bar that polls the live counts, and the deliberate resend of `unknown`
rows (those a dead worker may or may not have handed over).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup
from wtforms import BooleanField, Form, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView, int_ids
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.scoping import ProjectSelectField
from mailapp.content.utm import check_utm_rule
from mailapp.delivery.campaigns import (
    campaign_progress,
    cancel_campaign,
    pause_campaign,
    resend_unknown,
    resume_campaign,
)
from mailapp.delivery.launch import blocking_failures, launch_campaign, preflight
from mailapp.delivery.windows import SendWindow
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, List, Segment, Sender, Template

WEEKDAYS = [
    SelectChoice(str(day), name)
    for day, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
]


class ProjectListsField(SelectMultipleField):
    """Any number of the current project's lists."""

    def __init__(self, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(label, coerce=int, validators=[Optional()], **kwargs)

    def iter_choices(self) -> Any:
        rows = db.session.scalars(
            sa.select(List).where(List.project_id == current_project().id).order_by(List.name)
        )
        self.choices = [SelectChoice(row.id, row.name) for row in rows]
        return super().iter_choices()

    def pre_validate(self, form: Form) -> None:
        allowed = set(
            db.session.scalars(sa.select(List.id).where(List.project_id == current_project().id))
        )
        if set(self.data or []) - allowed:
            raise ValueError("Choose lists of this project.")


# Details-table fields the progress poll refreshes in place.
LIVE_FIELDS = ("status", "paused_reason", "launched_at", "finished_at")


def live_text(campaign: Campaign, name: str) -> str:
    value = getattr(campaign, name)
    if value is None:
        return ""
    return value.value if isinstance(value, CampaignStatus) else str(value)


def _live_cell(_view: Any, _context: Any, model: Campaign, name: str) -> Markup:
    return Markup('<span data-live="{}">{}</span>').format(name, live_text(model, name))


CONTROLS: dict[str, Callable[..., Any]] = {
    "pause": pause_campaign,
    "resume": resume_campaign,
    "cancel": cancel_campaign,
    "resend_unknown": resend_unknown,
}


UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class CampaignAdmin(ProjectModelView):
    permission = Permission.CAMPAIGNS_WRITE
    action_permissions = {
        "pause": Permission.CAMPAIGNS_SEND,
        "resume": Permission.CAMPAIGNS_SEND,
        "cancel": Permission.CAMPAIGNS_SEND,
    }
    endpoint_permissions = {
        "launch_view": Permission.CAMPAIGNS_SEND,
        "control_view": Permission.CAMPAIGNS_SEND,
        "progress_view": Permission.CAMPAIGNS_WRITE,
    }
    details_template = "admin/campaign_details.html"

    column_list = ["name", "status", "schedule_mode", "send_at", "launched_at", "created_at"]
    column_searchable_list = ["name"]
    column_filters = ["status", "schedule_mode", "created_at"]
    column_sortable_list = ["name", "status", "send_at", "created_at"]
    column_details_exclude_list = ["snapshot"]
    column_formatters_detail = dict.fromkeys(LIVE_FIELDS, _live_cell)
    form_columns = [
        "name",
        "sender_id",
        "template_id",
        "audience_lists",
        "audience_segment",
        "include_quarantined",
        "schedule_mode",
        "send_at",
        "local_send_time",
        "window_days",
        "window_start",
        "window_end",
        "window_timezone",
        "track_opens",
        "track_clicks",
        *UTM_FIELDS,
    ]
    form_extra_fields = {
        "sender_id": ProjectSelectField(Sender, "Sender"),
        "template_id": ProjectSelectField(Template, "Template"),
        "audience_lists": ProjectListsField("Lists"),
        "audience_segment": ProjectSelectField(Segment, "Segment (also)"),
        "include_quarantined": BooleanField("Include quarantined contacts"),
        "window_days": SelectMultipleField("Send window: days", choices=WEEKDAYS),
        "window_start": StringField("Send window: from (HH:MM)", validators=[Optional()]),
        "window_end": StringField("Send window: until (HH:MM)", validators=[Optional()]),
        "window_timezone": StringField("Send window: time zone", validators=[Optional()]),
        **{
            name: StringField(
                name,
                validators=[Optional()],
                description="Jinja: campaign.id, campaign.name, campaign.slug, link.id, "
                "link.host, link.path; a parameter already in a link's URL is kept",
            )
            for name in UTM_FIELDS
        },
    }

    def on_model_change(self, form: Form, model: Campaign, is_created: bool) -> Any:
        if is_created:
            model.created_by_id = current_user.id
        elif model.status is not CampaignStatus.DRAFT:
            raise ServiceError("Only draft campaigns can be edited.")
        model.audience = {
            "lists": list(form.audience_lists.data or []),
            "segment_id": form.audience_segment.data,
            "include_quarantined": bool(form.include_quarantined.data),
        }
        days = [int(d) for d in form.window_days.data or []]
        model.send_window = (
            {
                "days": days,
                "start": form.window_start.data or "00:00",
                "end": form.window_end.data or "23:59",
                "timezone": form.window_timezone.data or current_project().timezone,
            }
            if days
            else None
        )
        if model.send_window:
            SendWindow.from_dict(model.send_window, current_project().timezone)
        # Parameters set through the API other than these five are kept as they are.
        kept = {k: v for k, v in (model.utm or {}).items() if k not in UTM_FIELDS}
        typed = {name: (form[name].data or "").strip() for name in UTM_FIELDS}
        model.utm = kept | {name: value for name, value in typed.items() if value}
        problems = check_utm_rule(model.utm)
        if problems:
            raise ServiceError("; ".join(str(p) for p in problems))

    def on_form_prefill(self, form: Form, id: Any) -> None:
        model = self.get_one(id)
        audience = model.audience or {}
        form.audience_lists.data = audience.get("lists") or []
        form.audience_segment.data = audience.get("segment_id")
        form.include_quarantined.data = bool(audience.get("include_quarantined"))
        window = model.send_window or {}
        form.window_days.data = [str(d) for d in window.get("days", [])]
        form.window_start.data = window.get("start")
        form.window_end.data = window.get("end")
        form.window_timezone.data = window.get("timezone")
        for name in UTM_FIELDS:
            form[name].data = (model.utm or {}).get(name)

    def on_model_delete(self, model: Campaign) -> Any:
        if model.status is not CampaignStatus.DRAFT:
            raise ServiceError("Only draft campaigns can be deleted; cancel it instead.")

    # --- the control room ---------------------------------------------------------------
    # Ids arrive as strings; get_one() answers 404 for anything not in this project.
    @expose("/launch/<campaign_id>", methods=["GET", "POST"])
    def launch_view(self, campaign_id: str) -> ResponseReturnValue:
        """GET: the pre-flight checklist; POST: launch (errors block it)."""
        campaign = self.get_one(campaign_id)
        if request.method == "POST":
            try:
                launch_campaign(current_project(), campaign.id, actor=current_actor())
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(f"{campaign.name} launched: sending starts as scheduled.", "success")
                return redirect(self.get_url(".details_view", id=campaign.id))
        checks = preflight(current_project(), campaign)
        return self.render(
            "admin/campaign_launch.html",
            campaign=campaign,
            checks=checks,
            blocked=bool(blocking_failures(checks)),
        )

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
            flash(f"{campaign.name}: {verb} done.", "success")
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
            model = kwargs["model"]
            kwargs["progress"] = campaign_progress(model.project_id, model.id)
            kwargs["progress_url"] = url_for(".progress_view", campaign_id=model.id)
        return super().render(template, **kwargs)
