"""The last step: review everything a campaign will do, then confirm and launch.

The review restates the subject and preview as the audience's first contact will get them,
the sender, how many people, when the first and last message go out, and every pre-flight
line in plain words; the confirm button repeats "Send to N people ..." and posts that N,
so a launch never goes to an audience that changed since it was read. A launched campaign's
review shows its status instead: Back or refresh never offers Launch again.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, after_this_request, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.admin.campaign_display import (
    describe_audience,
    describe_eta,
    describe_schedule,
    describe_sender,
    describe_template,
    describe_tracking,
    describe_window,
    status_label,
)
from mailapp.admin.campaign_flow import STEPS
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.templates import PREVIEW_CSP
from mailapp.content.preview import preview_document, render_preview
from mailapp.content.rendering import RenderError
from mailapp.delivery.eta import campaign_eta
from mailapp.delivery.launch import AlreadyLaunched, blocking_failures, launch_campaign, preflight
from mailapp.delivery.readings import Counting, reading_for_review
from mailapp.delivery.recipients import sample_recipient
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Template


def no_store() -> None:
    """This response must not be kept: Back and refresh ask the server again."""

    @after_this_request
    def _headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response


def _version(campaign: Campaign) -> Any:
    template = db.session.get(Template, campaign.template_id) if campaign.template_id else None
    return template.published_version if template is not None else None


def campaign_summary(campaign: Campaign) -> dict[str, Any]:
    """Every setting of the campaign in words (the review and the details page)."""
    project = current_project()
    audience = (campaign.snapshot or {}).get("audience") or campaign.audience or {}
    return {
        "audience": describe_audience(project.id, audience),
        "sender": describe_sender(campaign.sender_id),
        "template": describe_template(campaign.template_id),
        "schedule": describe_schedule(project, campaign),
        "window": describe_window(project, campaign.send_window),
        "tracking": describe_tracking(campaign),
        "status": status_label(campaign.status),
    }


class CampaignReviewMixin:
    """The review, launch and preview pages of CampaignAdmin."""

    get_one: Any
    render: Any

    @expose("/launch/<campaign_id>", methods=["GET", "POST"])
    def launch_view(self, campaign_id: str) -> ResponseReturnValue:
        """GET: the review; POST: launch, confirmed with the audience count read there."""
        no_store()
        campaign = self.get_one(campaign_id)
        project = current_project()
        if request.method == "POST":
            if campaign.status != CampaignStatus.DRAFT:
                flash(
                    f"“{campaign.name}” was already launched (it is "
                    f"{status_label(campaign.status).lower()}); nothing was sent again.",
                    "warning",
                )
                return redirect(url_for(".details_view", id=campaign.id))
            confirmed = request.form.get("confirm_count", "").strip()
            if not confirmed.isdigit() or len(confirmed) > 12:
                flash("Confirm the audience size shown on the review before launching.", "error")
            else:
                # Not counted again here (seconds at a million contacts): preparation
                # pauses the campaign before sending if it finds another number.
                count = int(confirmed)
                try:
                    launch_campaign(
                        project, campaign.id, actor=current_actor(), confirmed_recipients=count
                    )
                except AlreadyLaunched as exc:
                    db.session.rollback()
                    flash(str(exc), "warning")
                    return redirect(url_for(".details_view", id=campaign.id))
                except ServiceError as exc:
                    db.session.rollback()
                    flash(f"Not launched: {exc}", "error")
                else:
                    flash(
                        f"“{campaign.name}” is launched for the {count:,} "
                        f"{'person' if count == 1 else 'people'} you confirmed. "
                        "Should the audience have changed since, it pauses before sending "
                        "and says so here.",
                        "success",
                    )
                    return redirect(url_for(".details_view", id=campaign.id))
        return self._review(campaign)

    def _review(self, campaign: Campaign) -> Any:
        """The page itself: settings, subject and preview. The audience's size, the ETA and
        the checks come from checks_view once the page is shown: at a million contacts
        reading the audience takes a second or two, which the rest need not wait for."""
        project = current_project()
        audience = (campaign.snapshot or {}).get("audience") or campaign.audience or {}
        contact = sample_recipient(project.id, audience)
        version = _version(campaign)
        rendered, render_error = None, None
        if version is not None:
            try:
                rendered = render_preview(
                    project, version, contact_id=contact.id if contact else None
                )
            except (RenderError, NotFound) as exc:
                render_error = str(exc)
        return self.render(
            "admin/campaign_review.html",
            campaign=campaign,
            steps=STEPS,
            step="review",
            launched=campaign.status != CampaignStatus.DRAFT,
            summary=campaign_summary(campaign),
            contact=contact,
            version=version,
            rendered=rendered,
            render_error=render_error,
        )

    @expose("/launch/<campaign_id>/checks")
    def review_checks_view(self, campaign_id: str) -> ResponseReturnValue:
        """The review's audience size, ETA, pre-flight lines and confirm button (a fragment
        the review page loads): one reading of the audience serves all four."""
        no_store()
        campaign = self.get_one(campaign_id)
        project = current_project()
        launched = campaign.status != CampaignStatus.DRAFT
        snapshot = campaign.snapshot or {}
        audience = snapshot.get("audience") or campaign.audience or {}
        counted_at = None
        if launched and "recipients" in snapshot:
            count = snapshot["recipients"]  # who it was prepared for, not who would be today
        else:
            reading = reading_for_review(project.id, audience)
            if isinstance(reading, Counting):  # a worker counts a large audience: asked again
                return self.render(
                    "admin/campaign_review_counting.html", most=reading.most, launched=launched
                )
            count, counted_at = reading.count, reading.counted_at
        checks = [] if launched else preflight(project, campaign)
        still_to_go = campaign.status in (
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.SENDING,
        )
        eta = describe_eta(campaign_eta(project, campaign)) if count and still_to_go else None
        return self.render(
            "admin/campaign_review_checks.html",
            campaign=campaign,
            launched=launched,
            count=count,
            counted_at=counted_at,
            checks=checks,
            blocked=bool(blocking_failures(checks)) or not count,
            eta=eta,
        )

    @expose("/<campaign_id>/preview")
    def review_preview_view(self, campaign_id: str) -> ResponseReturnValue:
        """The message as the audience's first contact gets it, for the sandboxed iframe."""
        campaign = self.get_one(campaign_id)
        version = _version(campaign)
        if version is None:
            abort(404)
        project = current_project()
        audience = (campaign.snapshot or {}).get("audience") or campaign.audience or {}
        contact = sample_recipient(project.id, audience)
        try:
            rendered = render_preview(
                project, version, contact_id=contact.id if contact else None, signed_links=True
            )
        except (RenderError, NotFound):
            abort(404)
        response = Response(preview_document(rendered.html), mimetype="text/html")
        response.headers["Content-Security-Policy"] = PREVIEW_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response
