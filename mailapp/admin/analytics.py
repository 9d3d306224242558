"""Analytics pages: the project dashboard, trends per segment, campaign reports, click map
and CSV exports.

Every figure comes from `insights.reports` and `insights.segment_trends` (aggregates
only). The click map shows the
campaign's own HTML, which is user content: it is served from its own URL inside an
iframe with an empty `sandbox` and a CSP forbidding scripts, like the Outbox.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from flask import Response, abort, request
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.access.project_settings import sending_settings
from mailapp.admin.base import ProjectView
from mailapp.admin.charts import line_chart, metric_series
from mailapp.admin.clickmap import annotate
from mailapp.admin.context import current_project
from mailapp.admin.display import viewer_zone
from mailapp.admin.outbox import BODY_CSP
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.insights.exports import (
    campaign_report_csv,
    dashboard_csv,
    engagement_csv,
    segment_trends_csv,
)
from mailapp.insights.metrics import DELIVERED_EXPLAINED
from mailapp.insights.reports import CampaignReport, campaign_report, project_dashboard
from mailapp.insights.segment_trends import (
    MAX_COMPARED,
    METRICS,
    segment_choices,
    segment_trends,
)
from mailapp.models import Campaign, CampaignStatus
from mailapp.models.bounce_reason import ACTION_LABELS

PERIODS = (7, 30, 90, 365)
METRIC_LABELS = {
    "sent": "Sent",
    "delivered": "Delivered",
    "open": "Opens",
    "click": "Clicks",
    "bounce_hard": "Hard bounces",
    "bounce_soft": "Soft bounces",
    "complaint": "Complaints",
    "unsubscribe": "Unsubscribes",
}
LEGEND_CHARS = 16  # the chart's legend gives each series about 130 px
TREND_KEYS = ("sent", "delivered", "open", "click", "machine_open")
TIMELINE_KEYS = ("sent", "open", "click", "machine_open", "machine_click")
REPORTED = (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT)


class AnalyticsView(ProjectView):
    permission = Permission.ANALYTICS_READ

    def permission_for(self, name: str) -> Permission | None:
        # Per-recipient rows are a contact export, not a statistic.
        if name == "engagement_export":
            return Permission.CONTACTS_EXPORT
        return self.permission

    @expose("/")
    def index(self) -> ResponseReturnValue:
        days = _period()
        project = current_project()
        dashboard = project_dashboard(project.id, days=days)
        labels = [d.strftime("%m-%d") for d in dashboard.days]
        zeros = [0] * len(labels)
        chart = line_chart(
            labels,
            metric_series(TREND_KEYS, lambda key: dashboard.series.get(key, zeros)),
            title=f"Last {days} days",
        )
        campaigns = db.session.scalars(
            sa.select(Campaign)
            .where(Campaign.project_id == project.id, Campaign.status.in_(REPORTED))
            .order_by(Campaign.launched_at.desc().nulls_last(), Campaign.id.desc())
            .limit(50)
        ).all()
        return self.render(
            "admin/analytics/dashboard.html",
            dashboard=dashboard,
            chart=chart,
            days=days,
            periods=PERIODS,
            campaigns=campaigns,
            explained=DELIVERED_EXPLAINED,
        )

    @expose("/dashboard.csv")
    def dashboard_export(self) -> ResponseReturnValue:
        days = _period()
        dashboard = project_dashboard(current_project().id, days=days)
        return _csv_response("".join(dashboard_csv(dashboard)), f"dashboard-{days}d.csv")

    @expose("/segments/")
    def segments(self) -> ResponseReturnValue:
        """Trends of the campaigns sent to one segment, or a few compared."""
        days = _period()
        project = current_project()
        choices = segment_choices(project.id)
        chosen = _chosen_segments(choices)
        metric = request.args.get("metric", "open")
        metric = metric if metric in METRIC_LABELS else "open"
        # One segment gets its detail charts (every series); a comparison needs one metric.
        wanted = None if len(chosen) == 1 else [metric]
        trends = segment_trends(project.id, chosen, days=days, series=wanted)
        labels = [d.strftime("%m-%d") for d in trends.days]
        compare = line_chart(
            labels,
            # Segments compared are told apart by position; a lone segment's by metric.
            [(_legend(t.name), t.daily(metric, days)) for t in trends.segments],
            title=f"{METRIC_LABELS[metric]} per day, by segment",
        )
        details = []
        if len(trends.segments) == 1:
            only = trends.segments[0]
            for title, keys in (
                ("Sent and engagement", ("sent", "delivered", "open", "click")),
                ("Bounces, complaints, unsubscribes", tuple(str(k) for k in METRICS[4:])),
            ):
                series = metric_series(keys, lambda k: only.daily(k, days))
                details.append(line_chart(labels, series, title=f"{only.name}: {title.lower()}"))
        return self.render(
            "admin/analytics/segments.html",
            trends=trends,
            choices=choices,
            chosen=[t.segment_id for t in trends.segments],
            compare=compare,
            details=details,
            metric=metric,
            metric_labels=METRIC_LABELS,
            days=days,
            periods=PERIODS,
            max_compared=MAX_COMPARED,
            explained=DELIVERED_EXPLAINED,
        )

    @expose("/segments.csv")
    def segments_export(self) -> ResponseReturnValue:
        days = _period()
        project_id = current_project().id
        chosen = _chosen_segments(segment_choices(project_id))
        trends = segment_trends(project_id, chosen, days=days)
        return _csv_response("".join(segment_trends_csv(trends)), f"segments-{days}d.csv")

    @expose("/campaign/<campaign_id>/")
    def campaign(self, campaign_id: str) -> ResponseReturnValue:
        report = self._report(campaign_id)
        timeline, zone = report.timeline, viewer_zone()
        hourly = line_chart(
            [h.astimezone(zone).strftime("%a %H:00") for h, _ in timeline.hours],
            metric_series(TIMELINE_KEYS, lambda k: [v.get(k, 0) for _, v in timeline.hours]),
            title=f"First 48 hours after launch, per hour ({zone.key})",
        )
        daily = line_chart(
            [d.strftime("%m-%d") for d, _ in timeline.days],
            metric_series(TIMELINE_KEYS, lambda k: [v.get(k, 0) for _, v in timeline.days]),
            title="Every day since launch",
        )
        return self.render(
            "admin/analytics/campaign.html",
            report=report,
            m=report.metrics,
            bounce_actions=sending_settings(current_project())["bounce_actions"],
            action_labels=ACTION_LABELS,
            hourly=hourly,
            daily=daily,
            explained=DELIVERED_EXPLAINED,
        )

    @expose("/campaign/<campaign_id>/clickmap")
    def clickmap(self, campaign_id: str) -> ResponseReturnValue:
        report = self._report(campaign_id)
        if report.copy is None:
            abort(404)
        response = Response(annotate(report.copy.html, report.links), mimetype="text/html")
        response.headers["Content-Security-Policy"] = BODY_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/campaign/<campaign_id>/report.csv")
    def report_export(self, campaign_id: str) -> ResponseReturnValue:
        report = self._report(campaign_id)
        rows = "".join(campaign_report_csv(report))
        return _csv_response(rows, f"campaign-{campaign_id}-report.csv")

    @expose("/campaign/<campaign_id>/engagement.csv")
    def engagement_export(self, campaign_id: str) -> ResponseReturnValue:
        report = self._report(campaign_id)
        rows = engagement_csv(current_project().id, report.campaign.id)
        return _csv_response(rows, f"campaign-{campaign_id}-engagement.csv")

    def _report(self, campaign_id: str) -> CampaignReport:
        # A plain segment converted here: the permission check runs before any 404.
        if not campaign_id.isdigit():
            abort(404)
        try:
            return campaign_report(current_project().id, int(campaign_id))
        except NotFound:
            abort(404)


def _period() -> int:
    days = request.args.get("days", 30, type=int)
    return days if days in PERIODS else 30


def _chosen_segments(choices: list[tuple[int, str, int]]) -> list[int]:
    """The segments asked for; by default the three sent to most often."""
    if "segment" in request.args:
        return [int(s) for s in request.args.getlist("segment") if s.isdigit()]
    return [sid for sid, _name, campaigns in choices if campaigns][:3]


def _legend(name: str) -> str:
    return name if len(name) <= LEGEND_CHARS else name[: LEGEND_CHARS - 1] + "…"


def _csv_response(rows: str | Iterator[str], filename: str) -> Response:
    return Response(
        rows,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
