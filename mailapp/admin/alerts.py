"""Alerts: what went wrong lately (and whether the owners were told), and the alert settings.

Everyone who sees the reports sees the page; owners and admins (`alerts.manage`) change it.
"""

from __future__ import annotations

from flask import flash, has_request_context, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.access.project_settings import recent_changes
from mailapp.access.validation import InvalidSettings
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project, has_permission
from mailapp.alerts.raising import recent_alerts
from mailapp.alerts.settings import (
    ENABLED_PREFIX,
    HELP,
    KIND_LABELS,
    RANGES,
    alert_settings,
    update_alert_settings,
)
from mailapp.extensions import db
from mailapp.models import AlertKind, AlertMailState

RECENT = 100
MAIL_WORDS = {
    AlertMailState.PENDING: "Waiting to be sent",
    AlertMailState.SENDING: "Handed to the mail server (interrupted? it is not sent twice)",
    AlertMailState.SENT: "Sent",
    AlertMailState.FAILED: "Not sent",
    AlertMailState.NO_RECIPIENTS: "Nobody to send it to",
}
LABELS = {
    "bounce_percent": "Hard bounces above (%)",
    "complaint_percent": "Spam complaints above (%)",
    "queue_minutes": "Work piling up for (minutes)",
    "webhook_failures": "Webhook failures in a row",
    "recipients": "Also send to",
    **{f"{ENABLED_PREFIX}{kind.value}": f"Alert: {label}" for kind, label in KIND_LABELS.items()},
}


def _posted() -> dict[str, object]:
    changes: dict[str, object] = {name: request.form.get(name, "") for name in RANGES}
    changes["enabled"] = request.form.getlist("enabled")
    changes["recipients"] = request.form.get("recipients", "")
    return changes


class AlertsView(ProjectView):
    permission = Permission.ANALYTICS_READ

    def permission_for(self, name: str) -> Permission | None:
        # Seeing the page and changing the settings are one URL with two permissions.
        posting = has_request_context() and request.method == "POST"
        return Permission.ALERTS_MANAGE if posting else self.permission

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        project = current_project()
        if request.method == "GET":
            return self._page(alert_settings(project), {})
        try:
            changed = update_alert_settings(project, _posted(), actor=current_actor())
        except InvalidSettings as exc:
            db.session.rollback()
            flash("Nothing was saved: correct the fields marked below.", "error")
            posted = _posted()
            return self._page({**alert_settings(project), **posted}, exc.errors)
        if changed:
            flash(f"Saved: {', '.join(LABELS[k] for k in changed)}.", "success")
        else:
            flash("Nothing changed.", "info")
        return redirect(url_for(".index"))

    def _page(self, values: dict, errors: dict[str, str]) -> ResponseReturnValue:
        project = current_project()
        alerts = recent_alerts(project.id, limit=RECENT)
        if isinstance(values.get("recipients"), list):
            values = {**values, "recipients": "\n".join(values["recipients"])}
        return self.render(
            "admin/alerts.html",
            project=project,
            alerts=alerts,
            values=values,
            errors=errors,
            help=HELP,
            kinds=[(k.value, KIND_LABELS[k]) for k in AlertKind],
            kind_labels=KIND_LABELS,
            mail_words=MAIL_WORDS,
            can_edit=has_permission(Permission.ALERTS_MANAGE),
            changes=recent_changes(project.id, "project.alerts"),
            labels=LABELS,
        )
