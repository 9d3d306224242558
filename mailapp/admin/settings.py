"""Settings → Sending rules: the project's enforced settings on one validated, audited page."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.access.project_settings import (
    BOUNCE_PREFIX,
    INTEGER_RANGES,
    SETTING_HELP,
    TRACKING_MODES,
    recent_changes,
    sending_settings,
    update_sending_settings,
)
from mailapp.access.validation import InvalidSettings
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.extensions import db
from mailapp.models.bounce_reason import ACTION_LABELS, HARD_REASONS, REASON_LABELS, BounceReason

TRACKING_LABELS = {
    "full": "Full: opens and clicks per contact",
    "anonymous": "Anonymous: totals per campaign, no contact named",
    "off": "Off: no open pixel, links left as written",
}


# What each setting is called on the page (flash messages and the recent-changes table).
LABELS = {
    "quiet_hours": "Quiet hours",
    "frequency_cap_7d": "Messages per contact per 7 days",
    "quota_messages_per_day": "Messages per day",
    "quota_import_rows_per_day": "Imported rows per day",
    "tracking": "Tracking",
    "soft_bounce_limit": "Soft bounces before suppressing",
    "soft_bounce_window_days": "Soft-bounce window (days)",
    "retry_hours": "Retry deferred mail for (hours)",
    "event_retention_days": "Keep events for (days)",
    "allow_self_approval": "Authors may publish their own drafts",
    **{
        f"{BOUNCE_PREFIX}{reason}": f"Bounce rule: {label}"
        for reason, label in REASON_LABELS.items()
    },
}


def _form_values(settings: dict) -> dict[str, object]:
    quiet = settings["quiet_hours"] or {}
    values = {k: v for k, v in settings.items() if k != "quiet_hours"}
    values.update(quiet_hours_start=quiet.get("start"), quiet_hours_end=quiet.get("end"))
    return values


def _posted_changes() -> dict[str, object]:
    """Every field of the page, as typed (an unticked checkbox is not posted: it means off)."""
    names = [*INTEGER_RANGES, "tracking", "quiet_hours_start", "quiet_hours_end"]
    changes: dict[str, object] = {name: request.form.get(name, "") for name in names}
    changes["allow_self_approval"] = "allow_self_approval" in request.form
    for reason in REASON_LABELS:
        if f"{BOUNCE_PREFIX}{reason}" in request.form:
            changes[f"{BOUNCE_PREFIX}{reason}"] = request.form[f"{BOUNCE_PREFIX}{reason}"]
    return changes


def _kind(reason: str) -> str:
    if reason in HARD_REASONS:
        return "Hard"
    # An unknown reason is hard only when a provider says the bounce was permanent.
    return "Hard or soft" if reason == BounceReason.OTHER else "Soft"


class SendingRulesView(ProjectView):
    permission = Permission.PROJECTS_MANAGE

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        project = current_project()
        errors: dict[str, str] = {}
        values = _form_values(sending_settings(project))
        if request.method == "POST":
            try:
                changed = update_sending_settings(project, _posted_changes(), actor=current_actor())
            except InvalidSettings as exc:
                db.session.rollback()
                errors = exc.errors
                posted = _posted_changes()
                values = {**values, **posted}
                # Redisplay the rules as typed, so nothing chosen is lost.
                values["bounce_actions"] = {
                    **values["bounce_actions"],
                    **{
                        k[len(BOUNCE_PREFIX) :]: v
                        for k, v in posted.items()
                        if k.startswith(BOUNCE_PREFIX)
                    },
                }
                flash("Nothing was saved: correct the fields marked below.", "error")
            else:
                if changed:
                    flash(f"Saved: {', '.join(LABELS[k] for k in changed)}.", "success")
                else:
                    flash("Nothing changed.", "info")
                return redirect(url_for(".index"))
        return self.render(
            "admin/settings.html",
            project=project,
            values=values,
            errors=errors,
            help=SETTING_HELP,
            ranges=INTEGER_RANGES,
            tracking_modes=[(m, TRACKING_LABELS[m]) for m in TRACKING_MODES],
            changes=recent_changes(project.id, "project.settings"),
            labels=LABELS,
            reasons=[
                (reason, label, reason in HARD_REASONS) for reason, label in REASON_LABELS.items()
            ],
            action_labels=ACTION_LABELS,
            bounce_prefix=BOUNCE_PREFIX,
        )
