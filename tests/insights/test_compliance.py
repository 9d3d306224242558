"""The bulk-sender rules per sender: each line green, amber or red under its condition,
with the measured value; figures from the aggregates the app itself records."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.delivery.domain_setup import check_sender_domain
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.insights.compliance import sender_compliance, tls_line
from mailapp.models import Contact, Event, EventType
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner
from tests.factories import (
    add_contacts,
    make_delivery,
    make_list,
    make_project,
    make_sender,
    make_sent_campaign,
)
from tests.support.dns_zones import BOUNCE_MX, OUR_SPF, good_zone


@pytest.fixture
def setup(app):
    project = make_project()
    sender = make_sender(project, transport_url="smtps://relay.example.net:465")
    return project, sender


def lines_of(project, sender):
    return {line.key: line for line in sender_compliance(project, sender)}


def mail(project, campaign_id, type_, count, *, days_ago=1):
    """`count` events of `type_` for the campaign, recorded like the app records them."""
    when = utcnow() - timedelta(days=days_ago)
    record_events(
        [
            {
                "project_id": project.id,
                "type": type_,
                "occurred_at": when,
                "campaign_id": campaign_id,
                "contact_id": None,
                "delivery_id": None,
                "message_id": None,
                "link_id": None,
                "is_machine": False,
                "payload": {},
            }
            for _ in range(count)
        ]
    )


def test_dns_lines_follow_the_stored_check(app, setup, dns_server):
    project, sender = setup
    app.config.update(DNS_RESOLVER=dns_server.address, DNS_TIMEOUT=2.0)
    app.config.update(SPF_INCLUDE=OUR_SPF, BOUNCE_MX_HOST=BOUNCE_MX)
    never = lines_of(project, sender)
    assert {never[k].state for k in ("spf", "dkim", "dmarc")} == {"amber"}
    assert "Check now" in never["dkim"].action
    dns_server.set({})
    check_sender_domain(project, sender.id)
    broken = lines_of(project, sender)
    assert (broken["spf"].state, broken["dkim"].state) == ("red", "red")
    assert "No DKIM record at sel1._domainkey.example.com" in broken["dkim"].value
    assert broken["dkim"].word == "Must fix"
    dns_server.set(good_zone(sender.dkim_private_key))
    check_sender_domain(project, sender.id)
    good = lines_of(project, sender)
    assert {good[k].state for k in ("spf", "dkim", "dmarc")} == {"green"}
    assert good["dmarc"].value.startswith("Passes (checked ")
    assert good["dmarc"].action is None


def test_complaint_rate_from_the_aggregates(setup):
    project, sender = setup
    campaign = make_sent_campaign(project, sender_id=sender.id)
    mail(project, campaign.id, EventType.SENT, 50)
    thin = lines_of(project, sender)["complaint_rate"]
    assert thin.state == "amber"
    assert thin.value.startswith("Not enough mail to measure: 50 delivered")
    mail(project, campaign.id, EventType.SENT, 1_010)
    mail(project, campaign.id, EventType.BOUNCE_SOFT, 60)  # delivered = sent - bounced
    line = lines_of(project, sender)["complaint_rate"]
    assert (line.state, line.word) == ("green", "Good")
    assert line.value == "0.00 % over the last 30 days (0 complaint(s) in 1,000 delivered)."
    mail(project, campaign.id, EventType.COMPLAINT, 1)
    line = lines_of(project, sender)["complaint_rate"]
    assert (line.state, line.value) == (
        "amber",
        "0.10 % over the last 30 days (1 complaint(s) in 1,000 delivered).",
    )
    assert line.action
    mail(project, campaign.id, EventType.COMPLAINT, 2)
    line = lines_of(project, sender)["complaint_rate"]
    assert (line.state, line.word) == ("red", "Must fix")
    assert line.value.startswith("0.30 % ")


def test_complaint_rate_counts_only_this_senders_last_30_days(setup):
    project, sender = setup
    campaign = make_sent_campaign(project, sender_id=sender.id)
    mail(project, campaign.id, EventType.SENT, 200)
    # Older than the window, another sender's campaign, transactional, another project.
    mail(project, campaign.id, EventType.COMPLAINT, 5, days_ago=40)
    other = make_sent_campaign(project, sender_id=make_sender(project, name="Other").id)
    mail(project, other.id, EventType.COMPLAINT, 5)
    mail(project, None, EventType.COMPLAINT, 5)
    rival = make_project()
    rival_sender = make_sender(rival)
    mail(rival, make_sent_campaign(rival, sender_id=rival_sender.id).id, EventType.COMPLAINT, 5)
    line = lines_of(project, sender)["complaint_rate"]
    assert line.value == "0.00 % over the last 30 days (0 complaint(s) in 200 delivered)."


def test_unsubscribes_are_honoured_and_late_mail_is_measured(app, setup):
    project, sender = setup
    lst = make_list(project)
    [contact_id] = add_contacts(project, lst, ["left@example.org"])
    contact = db.session.get(Contact, contact_id)
    campaign = make_sent_campaign(project, sender_id=sender.id)
    delivery = make_delivery(campaign, contact)
    first = lines_of(project, sender)
    assert first["one_click"].state == "green"
    assert "List-Unsubscribe-Post" in first["one_click"].value
    assert first["unsubscribe_honoured"].state == "green"
    # RFC 8058 one-click, as a mailbox provider posts it.
    path = LinkSigner.from_app().unsubscribe_url(delivery.id).removeprefix("http://mail.test")
    answer = app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert lines_of(project, sender)["unsubscribe_honoured"].state == "green"
    # A later campaign of the sender mailed them anyway (say, an import re-added them).
    later = make_sent_campaign(project, sender_id=sender.id, name="Later")
    make_delivery(later, contact, sent_at=utcnow() + timedelta(hours=1))
    soon = lines_of(project, sender)["unsubscribe_honoured"]
    assert soon.state == "amber"
    assert soon.value.startswith("1 unsubscribed contact(s) still got mail afterwards")
    db.session.execute(
        sa.update(Event)
        .where(Event.type == EventType.UNSUBSCRIBE)
        .values(occurred_at=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    late = lines_of(project, sender)["unsubscribe_honoured"]
    assert late.state == "red"
    assert "3.0 days after leaving" in late.value
    # Another sender's campaign mail is its own line, not this one's.
    other = make_sender(project, name="Other")
    assert lines_of(project, other)["unsubscribe_honoured"].state == "green"


@pytest.mark.parametrize(
    ("url", "state", "words"),
    [
        ("smtps://user:secret@relay.example.net:465", "green", "implicit TLS to relay.example.net"),
        ("smtp://relay.example.net:587?starttls=1", "green", "STARTTLS to relay.example.net:587"),
        ("smtp://relay.example.net:587?starttls=1&verify=0", "amber", "not checked (verify=0)"),
        ("smtp://127.0.0.1:2525", "amber", "relay on this machine"),
        ("smtp://user:secret@relay.example.net:25", "red", "Plain SMTP to relay.example.net"),
    ],
)
def test_tls_to_the_relay_from_the_transport_url(setup, url, state, words):
    _, sender = setup
    sender.transport_url = url
    line = tls_line(sender)
    assert line.state == state
    assert words in line.value
    assert "secret" not in line.value


def test_tls_falls_back_to_smtp_url(app, setup):
    _, sender = setup
    sender.transport_url = None
    app.config["SMTP_URL"] = "smtp://mail.example.net:25"
    assert tls_line(sender).state == "red"
