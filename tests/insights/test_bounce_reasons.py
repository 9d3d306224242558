"""A campaign's bounces broken down by reason, hard and soft, in the report and its CSV."""

from __future__ import annotations

from mailapp.access.project_settings import update_sending_settings
from mailapp.feedback.events import record_events
from mailapp.insights.reports import campaign_report
from mailapp.models import EventType
from mailapp.models.base import utcnow
from tests.admin.conftest import login
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
    make_user,
)


def bounced_campaign():
    project = make_project()
    campaign = make_sent_campaign(project)
    payloads = [
        # Returned mail and ESP events carry the reason they were filed under...
        (EventType.BOUNCE_HARD, {"bounce_reason": "user_unknown", "status": "5.1.1"}),
        (EventType.BOUNCE_HARD, {"bounce_reason": "user_unknown", "status": "5.1.1"}),
        (EventType.BOUNCE_SOFT, {"bounce_reason": "mailbox_full", "status": "5.2.2"}),
        # ...refusals during the SMTP conversation (and older events) are read from their reply.
        (EventType.BOUNCE_HARD, {"code": 550, "enhanced_code": "5.1.1", "at_send": True,
                                 "reply": "550 5.1.1 <c3@example.org>: user unknown"}),
        (EventType.BOUNCE_SOFT, {"status": "5.7.1",
                                 "diagnostic": "554 5.7.1 blocked using zen.spamhaus.org"}),
    ]  # fmt: skip
    events = []
    for n, (type_, payload) in enumerate(payloads):
        delivery = make_delivery(campaign, make_contact(project, f"c{n}@example.org"))
        events.append(
            {
                "project_id": project.id,
                "type": type_,
                "occurred_at": utcnow(),
                "campaign_id": campaign.id,
                "contact_id": delivery.contact_id,
                "delivery_id": delivery.id,
                "payload": payload,
            }
        )
    record_events(events)
    return project, campaign


def test_bounces_by_reason_count_hard_and_soft(app):
    project, campaign = bounced_campaign()
    report = campaign_report(project.id, campaign.id)
    assert [(r.reason, r.hard, r.soft) for r in report.bounce_reasons] == [
        ("user_unknown", 3, 0),
        ("policy_blocked", 0, 1),
        ("mailbox_full", 0, 1),
    ]
    assert report.bounce_reasons[0].label == "User unknown"


def test_the_report_page_and_csv_show_reasons_with_the_projects_rule(app, client):
    project, campaign = bounced_campaign()
    update_sending_settings(project, {"bounce_actions.mailbox_full": "record"}, actor=TEST_ACTOR)
    login(client, make_user(project, "owner"))
    page = client.get(f"/admin/analytics/campaign/{campaign.id}/").get_data(as_text=True)
    assert 'id="bounce-reasons"' in page
    row = page[page.index('data-reason="mailbox_full"') :].split("</tr>", 1)[0]
    assert "Mailbox full" in row
    assert "Record only, never suppress" in row
    row = page[page.index('data-reason="user_unknown"') :].split("</tr>", 1)[0]
    assert "Suppress at once" in row
    csv = client.get(f"/admin/analytics/campaign/{campaign.id}/report.csv").get_data(as_text=True)
    assert "bounce_reason,user_unknown,3," in csv
