"""Analytics pages: permission analytics.read, project scoping, figures, CSV, click map."""

import csv
import io
from datetime import UTC, datetime

import pytest

from mailapp.feedback.events import record_events
from tests.admin.conftest import login
from tests.factories import (
    links_of,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
    make_user,
)

AT = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def reported(app):
    project = make_project()
    campaign = make_sent_campaign(
        project,
        ["https://shop.example.com/a", "https://shop.example.com/b"],
        name="May offers",
        snapshot={
            "html": '<p><a href="https://shop.example.com/a">Shop</a><script>x()</script></p>'
        },
    )
    first, second = links_of(campaign)
    contacts = [make_contact(project, f"{p}reader@example.org") for p in ("=", "b", "c")]
    deliveries = [make_delivery(campaign, c) for c in contacts]

    def event(delivery, type_, machine=False, link=None):
        return {
            "project_id": project.id,
            "type": type_,
            "occurred_at": AT,
            "campaign_id": campaign.id,
            "contact_id": delivery.contact_id,
            "delivery_id": delivery.id,
            "message_id": None,
            "link_id": link.id if link else None,
            "is_machine": machine,
            "payload": {},
        }

    record_events(
        [
            *(event(d, "sent") for d in deliveries),
            event(deliveries[0], "open"),
            event(deliveries[0], "open"),
            event(deliveries[1], "open"),
            event(deliveries[2], "open", machine=True),
            event(deliveries[0], "click", link=first),
            event(deliveries[1], "click", link=first),
            event(deliveries[1], "click", link=second, machine=True),
            event(deliveries[2], "bounce_hard"),
        ]
    )
    return project, campaign, first, second


def _metric(html, name):
    marker = f'data-metric="{name}">'
    return html.split(marker, 1)[1].split("<", 1)[0]


def test_analyst_sees_the_campaign_report(client, reported):
    project, campaign, _, _ = reported
    login(client, make_user(project, "analyst"))
    page = client.get(f"/admin/analytics/campaign/{campaign.id}/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "May offers" in html
    assert _metric(html, "sent") == "3"
    assert _metric(html, "unique_opens") == "2"
    assert _metric(html, "opens") == "3"
    assert _metric(html, "machine_opens") == "1"
    assert _metric(html, "machine_only_opens") == "1"
    assert _metric(html, "unique_clicks") == "2"
    assert _metric(html, "clicks") == "2"
    assert _metric(html, "machine_clicks") == "1"
    assert _metric(html, "bounce_hard") == "1"
    assert _metric(html, "delivered") == "2"  # sent minus bounces
    assert "Delivered = sent minus hard and soft bounces" in html
    assert "<svg" in html
    assert "cdn" not in html.lower()
    dashboard = client.get("/admin/analytics/")
    assert dashboard.status_code == 200
    assert "May offers" in dashboard.get_data(as_text=True)


def test_click_map_needs_a_message_that_was_sent(client, reported):
    # The snapshot names no template version: there is no recipient's copy to draw on.
    project, campaign, _, _ = reported
    login(client, make_user(project, "analyst"))
    page = client.get(f"/admin/analytics/campaign/{campaign.id}/").get_data(as_text=True)
    assert 'id="clickmap"' not in page
    assert client.get(f"/admin/analytics/campaign/{campaign.id}/clickmap").status_code == 404


def test_roles_without_analytics_read_are_refused(client, reported):
    project, campaign, _, _ = reported
    login(client, make_user(project, "support"))
    assert client.get(f"/admin/analytics/campaign/{campaign.id}/").status_code == 403
    assert client.get("/admin/analytics/").status_code == 403


def test_another_projects_campaign_is_a_404(client, reported):
    _, campaign, _, _ = reported
    other = make_project()
    login(client, make_user(other, "owner"))
    assert client.get(f"/admin/analytics/campaign/{campaign.id}/").status_code == 404
    assert client.get(f"/admin/analytics/campaign/{campaign.id}/report.csv").status_code == 404


def test_csv_exports(client, reported):
    project, campaign, _, _ = reported
    login(client, make_user(project, "analyst"))
    report = client.get(f"/admin/analytics/campaign/{campaign.id}/report.csv")
    assert report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True))))
    assert ["summary", "opens_unique", "2", "1"] in rows
    trend = client.get("/admin/analytics/dashboard.csv?days=7")
    assert trend.mimetype == "text/csv"
    assert trend.get_data(as_text=True).startswith("day")
    # Per-recipient rows are a contact export: analysts may not.
    assert client.get(f"/admin/analytics/campaign/{campaign.id}/engagement.csv").status_code == 403


def test_marketers_export_recipients_with_formulas_neutralized(client, reported):
    project, campaign, _, _ = reported
    login(client, make_user(project, "marketer"))
    engagement = client.get(f"/admin/analytics/campaign/{campaign.id}/engagement.csv")
    assert engagement.status_code == 200
    emails = [r[0] for r in csv.reader(io.StringIO(engagement.get_data(as_text=True)))][1:]
    assert "'=reader@example.org" in emails
