"""The per-segment trends page: analytics.read, this project's segments only, SVG charts."""

import csv
import io
from datetime import UTC, datetime

from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.models import Segment
from tests.admin.conftest import login
from tests.factories import make_contact, make_delivery, make_project, make_sent_campaign, make_user


def make_segment(project, name):
    segment = Segment(project_id=project.id, name=name, rule={"all": []})
    db.session.add(segment)
    db.session.commit()
    return segment


def sent_events(project, segment, name, count):
    campaign = make_sent_campaign(
        project, name=name, snapshot={"audience": {"segment_id": segment.id}}
    )
    contact = make_contact(project)
    delivery = make_delivery(campaign, contact)
    record_events(
        [
            {
                "project_id": project.id,
                "type": "sent",
                "occurred_at": datetime.now(UTC),
                "campaign_id": campaign.id,
                "contact_id": contact.id,
                "delivery_id": delivery.id,
                "message_id": None,
                "link_id": None,
                "is_machine": False,
                "payload": {},
            }
        ]
        * count
    )
    return campaign


def totals_row(html, segment_id):
    row = html.split(f'data-segment="{segment_id}"', 1)[1].split("</tr>", 1)[0]
    return row.split('data-total="sent">', 1)[1].split("<", 1)[0]


def test_analyst_compares_segments_of_the_project(app, client):
    project = make_project()
    vip, churn = make_segment(project, "VIP <b>"), make_segment(project, "Churn")
    sent_events(project, vip, "VIP May", 3)
    sent_events(project, churn, "Churn May", 2)
    other = make_project()
    theirs = make_segment(other, "Their secret segment")
    sent_events(other, theirs, "Their campaign", 9)
    login(client, make_user(project, "analyst"))
    page = client.get(
        f"/admin/analytics/segments/?segment={vip.id}&segment={churn.id}&segment={theirs.id}&metric=sent"
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert totals_row(html, vip.id) == "3"
    assert totals_row(html, churn.id) == "2"
    assert "Their secret segment" not in html
    assert "Their campaign" not in html
    assert "VIP &lt;b&gt;" in html
    assert "VIP <b>" not in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="mailapp-chart"') == 1
    assert 'data-name="VIP &lt;b&gt;"' in html
    assert "when they\n  were launched" in html  # the page says what "per segment" means
    assert "VIP May" in html
    assert "Churn May" in html


def test_one_segment_gets_its_detail_charts_and_defaults_pick_busy_segments(app, client):
    project = make_project()
    vip = make_segment(project, "VIP")
    make_segment(project, "Never mailed")
    sent_events(project, vip, "VIP May", 1)
    login(client, make_user(project, "marketer"))
    html = client.get("/admin/analytics/segments/").get_data(as_text=True)
    assert f'value="{vip.id}" id="segment-{vip.id}" checked' in html
    assert html.count('class="mailapp-chart"') == 3  # comparison + two detail charts
    assert "Never mailed" in html  # offered, not chosen
    dashboard = client.get("/admin/analytics/").get_data(as_text=True)
    assert 'id="per-segment"' in dashboard


def test_support_may_not_see_segment_trends(app, client):
    project = make_project()
    login(client, make_user(project, "support"))
    assert client.get("/admin/analytics/segments/").status_code == 403


def test_segment_csv_has_a_row_per_segment_and_day_and_neutralizes_formulas(app, client):
    project = make_project()
    vip, formula = make_segment(project, "VIP"), make_segment(project, "=HYPERLINK(1)")
    sent_events(project, vip, "VIP May", 3)
    sent_events(project, formula, "Other May", 1)
    login(client, make_user(project, "analyst"))
    page = client.get(f"/admin/analytics/segments/?segment={vip.id}&segment={formula.id}&days=7")
    assert f"segment={vip.id}&amp;segment={formula.id}" in page.get_data(as_text=True)
    export = client.get(
        f"/admin/analytics/segments.csv?segment={vip.id}&segment={formula.id}&days=7"
    )
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0][:4] == ["day", "segment", "sent", "delivered"]
    assert len(rows) == 1 + 2 * 7
    assert {row[1] for row in rows[1:]} == {"VIP", "'=HYPERLINK(1)"}
    assert sum(int(row[2]) for row in rows[1:] if row[1] == "VIP") == 3
