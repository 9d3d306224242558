"""CSV exports of analytics, safe to open in a spreadsheet.

Any text cell starting with =, +, -, @, a tab or a carriage return is prefixed with an
apostrophe, so a contact named "=HYPERLINK(...)" stays text instead of becoming a formula
(OWASP "CSV injection"). Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.insights.reports import CampaignReport, Dashboard
from mailapp.insights.segment_trends import METRICS, SegmentTrends
from mailapp.models import CampaignEngagement, Contact

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """A cell value a spreadsheet will not evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def _csv(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralize(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def campaign_report_csv(report: CampaignReport) -> Iterator[str]:
    """The report's figures, breakdowns, links and timeline as one CSV."""
    m = report.metrics
    rows: list[list[Any]] = [
        ["section", "name", "value", "machine"],
        ["campaign", "name", report.campaign.name, ""],
        ["summary", "sent", m.sent, ""],
        ["summary", "delivered", m.delivered, ""],
        ["summary", "bounce_hard", m.bounce_hard, ""],
        ["summary", "bounce_soft", m.bounce_soft, ""],
        ["summary", "complaints", m.complaints, ""],
        ["summary", "unsubscribes", m.unsubscribes, ""],
        ["summary", "opens_total", m.opens, m.machine_opens],
        ["summary", "opens_unique", m.unique_opens, report.machine_only_opens],
        ["summary", "clicks_total", m.clicks, m.machine_clicks],
        ["summary", "clicks_unique", m.unique_clicks, ""],
    ]
    rows += [["delivery_status", status, n, ""] for status, n in sorted(report.outcomes.items())]
    rows += [["bounce_code", code, n, ""] for code, n in report.bounce_codes]
    rows += [["bounce_reason", r.reason, r.total, ""] for r in report.bounce_reasons]
    rows += [
        [f"domain {domain}", name, counts.get(name, 0), ""]
        for domain, counts in report.domains
        for name in ("sent", "bounce_hard", "bounce_soft", "open", "click")
    ]
    rows += [["mail_client", name, n, ""] for name, n in report.clients]
    rows += [["device", name, n, ""] for name, n in report.devices]
    rows += [["link", link.url, link.clicks, link.machine_clicks] for link in report.links]
    for hour, values in report.timeline.hours:
        rows += [[f"hour {hour.isoformat()}", k, n, ""] for k, n in sorted(values.items()) if n]
    for day, values in report.timeline.days:
        rows += [[f"day {day.isoformat()}", k, n, ""] for k, n in sorted(values.items()) if n]
    return _csv(rows)


def engagement_csv(project_id: int, campaign_id: int, *, chunk: int = 5000) -> Iterator[str]:
    """One row per engaged recipient, streamed in chunks (campaigns can be large).

    Reads on a connection of its own, taken now: the rows may be produced after the
    request that asked for them has ended (a streamed response).
    """
    engine = db.engine
    query = (
        sa.select(
            Contact.email,
            CampaignEngagement.opens,
            CampaignEngagement.clicks,
            CampaignEngagement.machine_opens,
            CampaignEngagement.machine_clicks,
            CampaignEngagement.first_opened_at,
            CampaignEngagement.first_clicked_at,
        )
        .join(Contact, Contact.id == CampaignEngagement.contact_id)
        .where(
            CampaignEngagement.project_id == project_id,
            CampaignEngagement.campaign_id == campaign_id,
        )
        .order_by(CampaignEngagement.contact_id)
        .execution_options(yield_per=chunk)
    )

    def rows() -> Iterator[list[Any]]:
        yield [
            "email",
            "opens",
            "clicks",
            "machine_opens",
            "machine_clicks",
            "first_opened_at",
            "first_clicked_at",
        ]
        with engine.connect() as connection:
            for row in connection.execute(query):
                yield [*row[:5], *(at.isoformat() if at else "" for at in row[5:])]

    return _csv(rows())


def dashboard_csv(dashboard: Dashboard) -> Iterator[str]:
    """One row per day with each series (delivered: sent minus bounces, as on the page)."""
    names = sorted(dashboard.series)
    rows: list[list[Any]] = [["day", *names]]
    rows += [
        [day.isoformat(), *(dashboard.series[name][n] for name in names)]
        for n, day in enumerate(dashboard.days)
    ]
    return _csv(rows)


def segment_trends_csv(trends: SegmentTrends) -> Iterator[str]:
    """One row per segment and day with each count (read with every series)."""
    keys = [*(str(m) for m in METRICS), "machine_open", "machine_click"]
    size = len(trends.days)
    rows: list[list[Any]] = [["day", "segment", *keys]]
    rows += [
        [day.isoformat(), trend.name, *(trend.daily(key, size)[n] for key in keys)]
        for trend in trends.segments
        for n, day in enumerate(trends.days)
    ]
    return _csv(rows)
