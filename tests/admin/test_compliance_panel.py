"""Domain set-up → Bulk-sender rules: each rule with its state in a word and the measured
value, and the same permission as the rest of the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from mailapp.feedback.events import record_events
from mailapp.models import EventType
from mailapp.models.base import utcnow
from tests.admin.conftest import login
from tests.factories import make_project, make_sender, make_sent_campaign, make_user


def rows_of(page: str) -> dict[str, str]:
    """data-key → data-state of the rows of the rules table."""
    table = page.split('id="compliance"', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(r'data-key="([a-z_]+)" data-state="([a-z]+)"', table))


def test_the_page_lists_the_rules_with_the_measured_values(client, app):
    project = make_project()
    sender = make_sender(project, transport_url="smtp://relay.example.net:25")
    campaign = make_sent_campaign(project, sender_id=sender.id)
    base = {
        "project_id": project.id,
        "occurred_at": utcnow() - timedelta(days=2),
        "campaign_id": campaign.id,
        "contact_id": None,
        "is_machine": False,
        "payload": {},
    }
    record_events(
        [{**base, "type": EventType.SENT}] * 400 + [{**base, "type": EventType.COMPLAINT}] * 2
    )
    login(client, make_user(project, "owner"))
    page = client.get(f"/admin/domains/{sender.id}/").get_data(as_text=True)
    assert "3. Bulk-sender rules" in page
    assert rows_of(page) == {
        "spf": "amber",
        "dkim": "amber",
        "dmarc": "amber",
        "one_click": "green",
        "unsubscribe_honoured": "green",
        "complaint_rate": "red",
        "tls": "red",
    }
    assert "0.50 % over the last 30 days (2 complaint(s) in 400 delivered)." in page
    assert "Plain SMTP to relay.example.net:25" in page
    assert "Use smtps:// or add ?starttls=1 to the transport URL." in page
    table = page.split('id="compliance"', 1)[1]
    for word in ("Good", "Check", "Must fix"):
        assert f">{word}</strong>" in table


@pytest.mark.parametrize("role", ["marketer", "analyst", "support"])
def test_roles_without_senders_manage_do_not_see_it(app, client, role):
    project = make_project()
    sender = make_sender(project)
    login(client, make_user(project, role))
    assert client.get(f"/admin/domains/{sender.id}/").status_code == 403
