"""A campaign paused by its guardrails mails an alert to the project's owners, for real:
through the project's own transport (its sender's SMTP server, not SMTP_URL), to a real SMTP
sink, by a real Dramatiq worker thread, once."""

from __future__ import annotations

import email
from email.policy import default

import pytest
import sqlalchemy as sa

from mailapp.alerts.mailing import deliver_alert
from mailapp.delivery import batches
from mailapp.extensions import db
from mailapp.models import Alert, AlertKind, AlertMailState, Campaign, CampaignStatus
from tests.factories import (
    add_contacts,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
    make_user,
)
from tests.support.pipeline import launch, run_pipeline, run_queue
from tests.support.smtp_sink import SmtpSink
from workers.actors.alerts import send_alert
from workers.broker import broker


@pytest.fixture
def sink(app):
    """The sender's own SMTP server; SMTP_URL stays the unreachable default."""
    sink = SmtpSink().start()
    app.config.update(SEND_GROUP_SIZE=4, DISPATCH_BATCH_SIZE=10)
    yield sink
    sink.stop()
    batches.transport_pool().close()


def paused_campaign(sink):
    project = make_project()
    owner = make_user(project, "owner", "owner@example.net")
    make_user(project, "marketer", "marketer@example.net")
    sender = make_sender(project, transport_url=sink.url, from_email="news@example.com")
    lst = make_list(project, 5)
    bad = [f"gone{i}@example.org" for i in range(5)]
    add_contacts(project, lst, bad)
    sink.rcpt_rules.update(dict.fromkeys(bad, "550 5.1.1 unknown user"))
    campaign = make_campaign(
        project,
        sender,
        make_template(project),
        [lst],
        name="Spring sale",
        guardrails={"max_bounce_rate": 0.1, "min_sample": 5},
    )
    launch(project, campaign)
    run_pipeline(campaign.id)
    return project, owner, campaign


def alert_mails(sink):
    return [m for m in sink.messages if b"X-Mailapp-Alert" in m.data]


def test_an_auto_pause_mails_the_owner_through_the_projects_transport(app, sink):
    project, owner, campaign = paused_campaign(sink)
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.PAUSED
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert (alert.project_id, alert.kind, alert.subject) == (
        project.id,
        AlertKind.CAMPAIGN_PAUSED,
        f"campaign:{campaign.id}",
    )
    assert alert_mails(sink) == []  # a worker sends it, not the pipeline
    assert broker.queues[send_alert.queue_name].qsize() == 1

    run_queue(send_alert.queue_name)

    [received] = alert_mails(sink)
    assert received.rcpt_tos == [owner.email]  # the owner, not the marketer
    assert received.mail_from == "news@example.com"  # the project's sender
    message = email.message_from_bytes(received.data, policy=default)
    assert message["Subject"] == f"[{project.name}] A campaign was paused by its guardrails"
    body = message.get_content()
    assert "'Spring sale' was paused by its guardrails: hard bounce rate 50.00% above" in body
    assert f"http://mail.test/admin/campaign/details/?id={campaign.id}" in body
    db.session.expire_all()
    stored = db.session.get(Alert, alert.id)
    assert stored.mail_state == AlertMailState.SENT
    assert stored.mail_detail == f"sent to {owner.email}"

    # Never twice: a redelivered message finds the alert mailed already.
    assert deliver_alert(alert.id) == "not-needed"
    assert len(alert_mails(sink)) == 1


def test_the_same_pause_again_within_the_cool_down_raises_no_second_alert(app, sink):
    from mailapp.alerts.raising import raise_campaign_paused

    project, _, campaign = paused_campaign(sink)
    again = raise_campaign_paused(project, campaign, "auto-paused: hard bounce rate 60.00%")
    assert again is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 1
