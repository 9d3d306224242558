"""The back office's landing page: the current project's dashboard, and the project switcher."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import AdminIndexView, expose
from flask_login import current_user

from mailapp.access.permissions import Permission
from mailapp.admin.context import current_project_or_none, has_permission, switch_project
from mailapp.insights.dashboard import project_overview
from mailapp.insights.metrics import DELIVERED_EXPLAINED, campaign_metrics
from mailapp.insights.reports import project_dashboard

HOME_DAYS = 30


class HomeView(AdminIndexView):
    """Needs only a login: every user may see their project's overview."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name: str, **kwargs: object) -> ResponseReturnValue:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))

    @expose("/")
    def index(self) -> ResponseReturnValue:
        project = current_project_or_none()
        overview = (
            project_overview(project.id, with_audit=has_permission(Permission.AUDIT_READ))
            if project
            else None
        )
        stats = figures = None
        if overview is not None and has_permission(Permission.ANALYTICS_READ):
            # The same service and definition as Analytics: the numbers match to the unit.
            stats = project_dashboard(project.id, days=HOME_DAYS).totals
            figures = campaign_metrics(project.id, [c.id for c in overview.recent_campaigns])
        return self.render(
            "admin/home.html",
            project=project,
            overview=overview,
            stats=stats,
            figures=figures,
            home_days=HOME_DAYS,
            explained=DELIVERED_EXPLAINED,
        )

    @expose("/switch-project", methods=("POST",))
    def switch_project(self) -> ResponseReturnValue:
        try:
            project_id = int(request.form.get("project_id", ""))
        except ValueError:
            abort(400)
        switch_project(project_id)
        return redirect(url_for("admin.index"))
