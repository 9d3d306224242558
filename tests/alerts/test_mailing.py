"""Mailing an alert: to the active owners and the extra addresses, through the project's
sender, once; a deferral leaves it for later, no way to send is said on the alert."""

from __future__ import annotations

import email
from email.policy import default

import pytest

from mailapp.alerts.mailing import deliver_alert
from mailapp.alerts.raising import raise_alert
from mailapp.alerts.settings import update_alert_settings
from mailapp.extensions import db
from mailapp.models import Alert, AlertKind, AlertMailState
from tests.factories import TEST_ACTOR, make_project, make_sender, make_user
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def new_alert(project):
    return raise_alert(project, AlertKind.WEBHOOKS_FAILING, "endpoint:1", "It keeps failing.")


def state(alert):
    db.session.expire_all()
    return db.session.get(Alert, alert.id)


def test_owners_and_extra_recipients_get_it_from_the_first_sender(app, sink):
    project = make_project()
    make_user(project, "owner", "first@example.net")
    make_user(project, "owner", "second@example.net")
    make_user(project, "admin", "admin@example.net")
    make_sender(project, transport_url=sink.url, from_email="hello@example.com")
    make_sender(project, transport_url="smtp://127.0.0.1:1", from_email="other@example.com")
    update_alert_settings(
        project, {"recipients": "oncall@example.net, FIRST@example.net"}, actor=TEST_ACTOR
    )
    alert = new_alert(project)
    assert deliver_alert(alert.id) == "sent"
    assert sorted(r for m in sink.messages for r in m.rcpt_tos) == [
        "first@example.net",
        "oncall@example.net",
        "second@example.net",
    ]
    assert {m.mail_from for m in sink.messages} == {"hello@example.com"}
    message = email.message_from_bytes(sink.messages[0].data, policy=default)
    assert message["Auto-Submitted"] == "auto-generated"
    assert "It keeps failing." in message.get_content()
    assert state(alert).mailed_at is not None
    assert deliver_alert(alert.id) == "not-needed"
    assert len(sink.messages) == 3


def test_a_deactivated_owner_is_not_mailed_and_no_owner_is_said(app, sink):
    project = make_project()
    owner = make_user(project, "owner", "gone@example.net")
    owner.active = False  # (the service keeps a last owner active; the data may not)
    db.session.commit()
    make_sender(project, transport_url=sink.url)
    alert = new_alert(project)
    assert deliver_alert(alert.id) == "no_recipients"
    assert state(alert).mail_state == AlertMailState.NO_RECIPIENTS
    assert sink.messages == []


def test_without_sender_it_goes_through_smtp_url(app, sink):
    app.config["SMTP_URL"] = sink.url
    project = make_project()
    make_user(project, "owner", "boss@example.net")
    alert = new_alert(project)
    assert deliver_alert(alert.id) == "sent"
    assert sink.messages[0].mail_from == "no-reply@mail.test"


def test_no_way_to_send_is_recorded_on_the_alert(app):
    app.config["SMTP_URL"] = None
    project = make_project()
    make_user(project, "owner", "boss@example.net")
    alert = new_alert(project)
    assert deliver_alert(alert.id) == "failed"
    stored = state(alert)
    assert stored.mail_state == AlertMailState.FAILED
    assert stored.mail_detail.startswith("no way to send")


def test_a_deferral_leaves_it_pending_and_a_refusal_is_said(app, sink):
    project = make_project()
    make_user(project, "owner", "boss@example.net")
    make_sender(project, transport_url=sink.url)
    sink.rcpt_rules["boss@example.net"] = "451 4.3.0 try later"
    alert = new_alert(project)
    assert deliver_alert(alert.id) == "deferred"
    assert state(alert).mail_state == AlertMailState.PENDING
    sink.rcpt_rules["boss@example.net"] = "550 5.1.1 no such user"
    assert deliver_alert(alert.id) == "failed"
    stored = state(alert)
    assert stored.mail_state == AlertMailState.FAILED
    assert "no such user" in stored.mail_detail
    assert sink.messages == []
