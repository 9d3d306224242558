"""The transactional dashboard: figures per template or per tag, and one slice's hourly and
daily charts. Every number comes from `insights.message_dashboard` (aggregates only)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.charts import line_chart, metric_series
from mailapp.admin.context import current_project
from mailapp.admin.display import viewer_zone
from mailapp.insights.message_dashboard import DIMENSIONS, message_figures, message_series
from mailapp.insights.metrics import DELIVERED_EXPLAINED

PERIODS = (1, 7, 30, 90)
CHART_KEYS = ("sent", "bounce_hard", "open", "click", "machine_open")


def latency_label(ms: int | None) -> str:
    """A latency bucket bound as people read it: "≤ 2 s", "≤ 5 min", "over 6 h"."""
    if ms is None:
        return "—"
    if ms < 0:
        return "over 6 h"
    if ms < 1000:
        return f"≤ {ms} ms"
    if ms < 60_000:
        return f"≤ {ms // 1000} s"
    if ms < 3_600_000:
        return f"≤ {ms // 60_000} min"
    return f"≤ {ms // 3_600_000} h"


class MessageDashboardView(ProjectView):
    permission = Permission.ANALYTICS_READ

    @expose("/")
    def index(self) -> ResponseReturnValue:
        project = current_project()
        by = request.args.get("by", "template")
        by = by if by in DIMENSIONS else "template"
        days = request.args.get("days", 30, type=int)
        days = days if days in PERIODS else 30
        total, rows = message_figures(project.id, by, days=days)
        chosen = request.args.get("value")
        known = {f.value: f.label for f in rows}
        if chosen not in known:
            chosen = None
        dimension, value = (by, chosen) if chosen is not None else ("all", "")
        series = message_series(project.id, dimension, value, days=days, zone=viewer_zone())
        zone = viewer_zone()
        daily = line_chart(
            [d.strftime("%m-%d") for d, _ in series.days],
            metric_series(CHART_KEYS, series.daily),
            title=f"Per day, last {days} days",
        )
        hourly = line_chart(
            [h.astimezone(zone).strftime("%H:00") for h, _ in series.hours],
            metric_series(CHART_KEYS, series.hourly),
            title="Per hour, last 48 hours",
        )
        return self.render(
            "admin/messages/dashboard.html",
            by=by,
            days=days,
            periods=PERIODS,
            total=total,
            rows=rows,
            chosen=chosen,
            chosen_label=known.get(chosen, "All transactional mail"),
            daily=daily,
            hourly=hourly,
            latency=latency_label,
            explained=DELIVERED_EXPLAINED,
        )
