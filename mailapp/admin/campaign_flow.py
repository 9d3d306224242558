"""The campaign as steps a marketer follows: audience -> content -> schedule -> review.

Each step is a small form saved through delivery.drafts (validated, audited; a refused
value saves nothing and is shown next to its field with a 400). The review and launch
pages are in campaign_review; CampaignAdmin mixes both in.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.admin.campaign_display import describe_audience
from mailapp.admin.campaign_forms import (
    UTM_FIELDS,
    AudienceForm,
    ContentForm,
    ScheduleForm,
)
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.urlargs import post_only
from mailapp.content.preview import preview_context
from mailapp.content.rendering import RenderError, render_snippet
from mailapp.content.submission import TemplateRefused
from mailapp.delivery.campaigns import create_campaign
from mailapp.delivery.drafts import duplicate_campaign, resend_to_non_openers, update_draft
from mailapp.delivery.recipients import count_audience, sample_recipient
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, ScheduleMode, Template, TemplateVersion

STEPS = (
    ("audience", "Audience", ".audience_view"),
    ("content", "Content", ".content_view"),
    ("schedule", "Schedule", ".schedule_view"),
    ("review", "Review and launch", ".launch_view"),
)


def _refusal(exc: ServiceError) -> str:
    if isinstance(exc, TemplateRefused):
        return "; ".join(str(p) for p in exc.problems)
    return str(exc)


def _audience(form: AudienceForm, campaign: Campaign | None) -> dict:
    audience: dict[str, Any] = {
        "lists": list(form.lists.data or []),
        "segment_id": form.segment_id.data,
        "include_quarantined": bool(form.include_quarantined.data),
    }
    if form.non_openers_of is not None:
        audience["campaign_non_openers"] = form.non_openers_of
    return audience


class CampaignFlowMixin:
    """The step pages of CampaignAdmin (a ProjectModelView)."""

    get_one: Any
    render: Any

    def _step(self, template_step: str, campaign: Campaign | None, form: Any, **extra: Any) -> Any:
        status = 400 if request.method == "POST" else 200
        page = self.render(
            "admin/campaign_step.html",
            step=template_step,
            steps=STEPS,
            campaign=campaign,
            form=form,
            **extra,
        )
        return page, status

    def _draft(self, campaign_id: str) -> Campaign | ResponseReturnValue:
        campaign = self.get_one(campaign_id)
        if campaign.status != CampaignStatus.DRAFT:
            flash(
                f"Only draft campaigns can be edited: “{campaign.name}” was launched. "
                "Duplicate it to send something like it again.",
                "warning",
            )
            return redirect(url_for(".details_view", id=campaign.id))
        return campaign

    def _save(self, campaign: Campaign, form: Any, next_step: str, **fields: Any) -> Any:
        try:
            update_draft(current_project(), campaign.id, actor=current_actor(), **fields)
        except ServiceError as exc:
            db.session.rollback()
            flash(f"Not saved: {_refusal(exc)}", "error")
            return None
        return redirect(url_for(next_step, campaign_id=campaign.id))

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> ResponseReturnValue:
        """Step 1 of a new campaign: its name and audience."""
        form = AudienceForm()
        if form.validate_on_submit():
            try:
                campaign = create_campaign(
                    current_project(),
                    actor=current_actor(),
                    name=form.name.data.strip(),
                    audience=_audience(form, None),
                )
            except ServiceError as exc:
                db.session.rollback()
                flash(f"Not saved: {_refusal(exc)}", "error")
            else:
                return redirect(url_for(".content_view", campaign_id=campaign.id))
        return self._step("audience", None, form, count=None)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self) -> ResponseReturnValue:
        """Editing is the steps, from the first; a launched campaign cannot be edited."""
        return self.audience_view(request.args.get("id", ""))

    @expose("/<campaign_id>/audience", methods=("GET", "POST"))
    def audience_view(self, campaign_id: str) -> ResponseReturnValue:
        campaign = self._draft(campaign_id)
        if not isinstance(campaign, Campaign):
            return campaign
        audience = campaign.audience or {}
        form = AudienceForm(obj=None if request.method == "POST" else campaign)
        form.non_openers_of = audience.get("campaign_non_openers")
        if request.method == "GET":
            form.lists.data = audience.get("lists") or []
            form.segment_id.data = audience.get("segment_id")
            form.include_quarantined.data = bool(audience.get("include_quarantined"))
        if form.validate_on_submit():
            saved = self._save(
                campaign,
                form,
                ".content_view",
                name=form.name.data.strip(),
                audience=_audience(form, campaign),
            )
            if saved is not None:
                return saved
        project_id = current_project().id
        resend = (
            describe_audience(project_id, {"campaign_non_openers": form.non_openers_of})[0]
            if form.non_openers_of is not None
            else None
        )
        # The count arrives from audience_count_view as soon as the page is shown (and on
        # every change): at a million contacts it takes a moment the page need not wait for.
        return self._step("audience", campaign, form, count=None, resend=resend)

    @expose("/audience-count")
    def audience_count_view(self) -> ResponseReturnValue:
        """The live count of the audience being chosen (lists, segment, quarantined)."""
        audience = {
            "lists": [int(i) for i in request.args.getlist("lists") if i.isdigit()],
            "segment_id": request.args.get("segment_id", type=int),
            "include_quarantined": request.args.get("include_quarantined") == "y",
        }
        non_openers = request.args.get("campaign_non_openers", type=int)
        if non_openers is not None:
            audience["campaign_non_openers"] = non_openers
        try:
            count = count_audience(current_project().id, audience)
        except ServiceError:
            count = 0
        return jsonify(count=count, text=f"{count:,}")

    @expose("/<campaign_id>/content", methods=("GET", "POST"))
    def content_view(self, campaign_id: str) -> ResponseReturnValue:
        campaign = self._draft(campaign_id)
        if not isinstance(campaign, Campaign):
            return campaign
        form = ContentForm(obj=None if request.method == "POST" else campaign)
        if request.method == "GET":
            for name in UTM_FIELDS:
                form[name].data = (campaign.utm or {}).get(name)
        if form.validate_on_submit():
            # Parameters set through the API other than these five are kept as they are.
            kept = {k: v for k, v in (campaign.utm or {}).items() if k not in UTM_FIELDS}
            typed = {name: (form[name].data or "").strip() for name in UTM_FIELDS}
            saved = self._save(
                campaign,
                form,
                ".schedule_view",
                template_id=form.template_id.data,
                sender_id=form.sender_id.data,
                track_opens=bool(form.track_opens.data),
                track_clicks=bool(form.track_clicks.data),
                utm=kept | {k: v for k, v in typed.items() if v},
            )
            if saved is not None:
                return saved
        return self._step("content", campaign, form, subjects=_subjects(campaign))

    @expose("/<campaign_id>/schedule", methods=("GET", "POST"))
    def schedule_view(self, campaign_id: str) -> ResponseReturnValue:
        campaign = self._draft(campaign_id)
        if not isinstance(campaign, Campaign):
            return campaign
        form = ScheduleForm()
        if request.method == "GET":
            _prefill_schedule(form, campaign, current_project().timezone)
        if form.validate_on_submit():
            mode = ScheduleMode(form.schedule_mode.data)
            days = sorted(int(d) for d in form.window_days.data or [])
            window = {
                "days": days,
                "start": form.window_start.data,
                "end": form.window_end.data,
                "timezone": form.window_timezone.data or current_project().timezone,
            }
            saved = self._save(
                campaign,
                form,
                ".launch_view",
                schedule_mode=mode,
                send_at=form.send_at_utc if mode == ScheduleMode.AT else None,
                local_send_time=form.local_send_time.data
                if mode == ScheduleMode.LOCAL_TIME
                else None,
                send_window=window if days else None,
            )
            if saved is not None:
                return saved
        return self._step("schedule", campaign, form)

    @expose("/<campaign_id>/duplicate", methods=("GET", "POST"))
    def duplicate_view(self, campaign_id: str) -> ResponseReturnValue:
        """A new draft like this campaign (schedule cleared); opens its first step."""
        post_only()
        campaign = self.get_one(campaign_id)
        copy = duplicate_campaign(current_project(), campaign.id, actor=current_actor())
        flash(f"“{copy.name}” is a new draft: check each step, then launch it.", "success")
        return redirect(url_for(".audience_view", campaign_id=copy.id))

    @expose("/<campaign_id>/resend-non-openers", methods=("GET", "POST"))
    def resend_view(self, campaign_id: str) -> ResponseReturnValue:
        """A new draft to this campaign's recipients who did not open it."""
        post_only()
        campaign = self.get_one(campaign_id)
        try:
            copy = resend_to_non_openers(current_project(), campaign.id, actor=current_actor())
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".details_view", id=campaign.id))
        flash(
            f"“{copy.name}” is a new draft for the people who did not open “{campaign.name}”. "
            "Consider a new subject line, then review and launch it.",
            "success",
        )
        return redirect(url_for(".content_view", campaign_id=copy.id))


def _subjects(campaign: Campaign) -> dict[str, dict[str, str]]:
    """Each published template's subject and preview text as the audience's first contact
    reads them (the content step shows the chosen one)."""
    project = current_project()
    contact = sample_recipient(project.id, campaign.audience or {})
    context = preview_context(project, contact)
    rows = db.session.execute(
        sa.select(Template.id, TemplateVersion.subject, TemplateVersion.preheader)
        .join(TemplateVersion, TemplateVersion.id == Template.published_version_id)
        .where(Template.project_id == project.id)
        .limit(500)
    )
    shown: dict[str, dict[str, str]] = {}
    for template_id, subject, preheader in rows:
        try:
            shown[str(template_id)] = {
                "subject": render_snippet(subject, context, max_chars=998),
                "preheader": render_snippet(preheader or "", context, max_chars=500),
            }
        except RenderError as exc:
            shown[str(template_id)] = {"subject": f"(cannot be shown: {exc})", "preheader": ""}
    return shown


def _prefill_schedule(form: ScheduleForm, campaign: Campaign, zone_name: str) -> None:
    form.schedule_mode.data = campaign.schedule_mode.value
    if campaign.send_at:
        form.send_at.data = campaign.send_at.astimezone(ZoneInfo(zone_name)).strftime(
            "%Y-%m-%dT%H:%M"
        )
    form.local_send_time.data = campaign.local_send_time
    window = campaign.send_window or {}
    form.window_days.data = [str(d) for d in window.get("days", [])]
    form.window_start.data = window.get("start")
    form.window_end.data = window.get("end")
    form.window_timezone.data = window.get("timezone") or ""
