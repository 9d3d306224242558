"""One campaign sent through the real pipeline, with real tracking records: every page, CSV
and service shows the same sent, delivered, opens and clicks, under one definition."""

import csv
import io
import itertools
from datetime import timedelta

import pytest

from mailapp.admin.charts import SERIES_COLORS
from mailapp.feedback.events import record_events
from mailapp.feedback.report_stats import hour_of
from mailapp.insights.metrics import campaign_metrics
from mailapp.insights.reports import campaign_report, project_dashboard
from mailapp.insights.segment_trends import segment_trends
from tests.admin.conftest import login
from tests.factories import (
    make_user,
)
from tests.support.reports import midday, send_and_track


@pytest.fixture
def sent(app, tmp_path):
    with midday(tmp_path):
        yield send_and_track(app)


EXPECTED = {"sent": 8, "delivered": 6, "opens": 4, "clicks": 3, "unique_opens": 3}


def _metric(html: str, name: str, after: str = "") -> str:
    html = html.split(after, 1)[1] if after else html
    return html.split(f'data-metric="{name}">', 1)[1].split("<", 1)[0].strip()


def test_every_page_and_service_shows_the_same_figures(client, sent):
    project, campaign, segment, _, _ = sent
    m = campaign_report(project.id, campaign.id).metrics
    assert (m.sent, m.delivered, m.opens, m.clicks, m.unique_opens, m.unique_clicks) == (
        8,
        6,
        4,
        3,
        3,
        2,
    )
    assert (m.machine_opens, m.machine_clicks, m.bounce_hard, m.bounce_soft) == (1, 1, 1, 1)
    assert campaign_metrics(project.id, [campaign.id])[campaign.id] == m
    totals = project_dashboard(project.id, days=7).totals
    assert (totals.sent, totals.delivered, totals.opens, totals.clicks) == (8, 6, 4, 3)
    (trend,) = segment_trends(project.id, [segment.id], days=7).segments
    assert (trend.metrics.sent, trend.delivered, trend.totals["open"]) == (8, 6, 4)

    login(client, make_user(project, "analyst"))
    report = client.get(f"/admin/analytics/campaign/{campaign.id}/").get_data(as_text=True)
    for key, value in EXPECTED.items():
        assert _metric(report, key) == str(value), key
    dashboard = client.get("/admin/analytics/?days=7").get_data(as_text=True)
    for key, label in (("sent", "sent"), ("delivered", "delivered"), ("open", "opens")):
        total = dashboard.split(f'data-total="{key}">', 1)[1].split("<", 1)[0]
        assert total == str(EXPECTED[label])
    row = f'data-campaign="{campaign.id}"'
    for key in ("sent", "delivered", "opens", "clicks"):
        assert _metric(dashboard, key, after=row) == str(EXPECTED[key])
    home = client.get("/admin/").get_data(as_text=True)
    for key in ("sent", "delivered", "opens", "clicks"):
        assert _metric(home, key, after='id="home-stats"') == str(EXPECTED[key])
    assert _metric(home, "delivered", after=row) == "6"
    segments = client.get(f"/admin/analytics/segments/?segment={segment.id}&days=7")
    cells = segments.get_data(as_text=True).split(f'data-segment="{segment.id}"', 1)[1]
    assert cells.split('data-total="delivered">', 1)[1].split("<", 1)[0] == "6"
    assert cells.split('data-total="sent">', 1)[1].split("<", 1)[0] == "8"
    rows = list(csv.reader(io.StringIO(client.get(f"{_report_url(campaign)}report.csv").text)))
    assert ["summary", "delivered", "6", ""] in rows
    assert ["summary", "opens_unique", "3", "1"] in rows
    day = list(csv.DictReader(io.StringIO(client.get("/admin/analytics/dashboard.csv").text)))
    assert sum(int(r["delivered"]) for r in day) == 6
    seg = client.get(f"/admin/analytics/segments.csv?segment={segment.id}").text
    assert sum(int(r["delivered"]) for r in csv.DictReader(io.StringIO(seg))) == 6


def _report_url(campaign) -> str:
    return f"/admin/analytics/campaign/{campaign.id}/"


def test_the_first_hours_are_drawn_hourly(client, sent):
    project, campaign, _, _, _ = sent
    timeline = campaign_report(project.id, campaign.id).timeline
    assert timeline.hourly_only
    by_hour = dict(timeline.hours)
    assert sum(v.get("sent", 0) for v in by_hour.values()) == 8
    assert sum(v.get("open", 0) for v in by_hour.values()) == 4
    assert sum(v.get("machine_open", 0) for v in by_hour.values()) == 1
    # Every hour from launch to now has a point, so a campaign sent today draws a line.
    hours = list(by_hour)
    assert hours == sorted(hours)
    assert len(hours) >= 2
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(hours))
    login(client, make_user(project, "analyst"))
    page = client.get(_report_url(campaign)).get_data(as_text=True)
    assert "First 48 hours after launch, per hour" in page
    assert 'id="timeline-daily"' not in page


def test_events_after_48_hours_are_daily_only(app, sent):
    project, campaign, _, _, _ = sent
    late = campaign.launched_at + timedelta(hours=49)
    record_events(
        [
            {
                "project_id": project.id,
                "type": "unsubscribe",
                "occurred_at": late,
                "campaign_id": campaign.id,
            }
        ]
    )
    timeline = campaign_report(project.id, campaign.id, now=late).timeline
    assert sum(v.get("unsubscribe", 0) for _, v in timeline.hours) == 0
    assert sum(v.get("unsubscribe", 0) for _, v in timeline.days) == 1
    # Clock hours from the launch's to the one 48 hours later (49 unless launched on the hour).
    first, last = timeline.hours[0][0], timeline.hours[-1][0]
    assert first == hour_of(campaign.launched_at)
    assert last == hour_of(campaign.launched_at + timedelta(hours=48) - timedelta(seconds=1))


def test_domains_clients_and_devices(sent):
    project, campaign, *_ = sent
    report = campaign_report(project.id, campaign.id)
    domains = dict(report.domains)
    assert domains["gmail.com"]["sent"] == 5
    assert domains["web.de"]["sent"] == 3
    assert domains["web.de"]["bounce_hard"] == 1
    assert domains["web.de"]["bounce_soft"] == 1
    assert domains["gmail.com"]["open"] == 3
    assert domains["web.de"]["open"] == 1
    assert dict(report.clients) == {
        "Apple Mail": 2,
        "Outlook": 1,
        "Gmail": 1,
        "Apple Mail (privacy proxy)": 1,
    }
    assert dict(report.devices) == {"Mobile": 2, "Desktop": 2}
    assert ("5.1.1", 1) in report.bounce_codes


def test_click_map_is_the_message_a_recipient_received(client, sent):
    project, campaign, _, news, docs = sent
    login(client, make_user(project, "analyst"))
    body = client.get(f"{_report_url(campaign)}clickmap")
    assert body.status_code == 200
    assert "default-src 'none'" in body.headers["Content-Security-Policy"]
    html = body.get_data(as_text=True)
    assert "Hello N0," in html  # the first recipient's own first name, rendered
    assert "{{" not in html
    assert "contact.first_name" not in html
    assert "/t/c/" not in html  # no signed click URL: a click in the map records nothing
    assert f'href="#link-{news.id}"' in html
    assert f'href="#link-{docs.id}"' in html
    assert f'data-link="{news.id}"' in html
    assert ">2 · 67%<" in html
    assert f'data-link="{docs.id}"' in html
    assert ">1 · 33%<" in html
    page = client.get(_report_url(campaign)).get_data(as_text=True)
    assert '<iframe id="clickmap" sandbox=""' in page


def test_each_series_has_one_colour_on_every_page(client, sent):
    project, campaign, segment, _, _ = sent
    login(client, make_user(project, "analyst"))
    pages = [
        client.get("/admin/analytics/").get_data(as_text=True),
        client.get(_report_url(campaign)).get_data(as_text=True),
        client.get(f"/admin/analytics/segments/?segment={segment.id}").get_data(as_text=True),
    ]
    for page in pages:
        for label, key in (("opens", "open"), ("clicks", "click"), ("sent", "sent")):
            legend = f'fill="{SERIES_COLORS[key]}"/><text x="'
            assert legend in page
            at = page.index(f'data-name="{label}"')
            assert f'stroke="{SERIES_COLORS[key]}"' in page[at : at + 200], (label, page[:80])
