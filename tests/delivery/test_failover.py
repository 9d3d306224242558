"""Several transports per sender, against real local SMTP servers: a relay that cannot take a
message hands it to the next one at once, without counting against the recipient; never after
the data went out, never on the recipient's own refusal; the breaker skips a dead relay."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from mailapp.delivery import batches
from mailapp.delivery.transactional_send import send_message
from mailapp.delivery.transport_choice import shared_health
from mailapp.extensions import db
from mailapp.models import Contact, Delivery, DeliveryStatus, Message, SenderTransport
from tests.factories import (
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
    submit_tx,
)
from tests.support.failing_smtp import ClosingAtMail, Dropper, LostAfterData
from tests.support.http_receiver import Receiver
from tests.support.pipeline import launch, run_pipeline
from tests.support.servers import free_port
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def servers(app):
    started: list = []

    def start(server):
        started.append(server.start())
        return server

    app.config.update(SEND_GROUP_SIZE=4, DISPATCH_BATCH_SIZE=20)
    yield start
    batches.transport_pool().close()
    for server in started:
        server.stop()


def sender_with(transports: list[tuple[str, str, int]]):
    """A new project's sender with the given (name, url, weight) transports, in order."""
    project = make_project()
    sender = make_sender(project)
    for position, (name, url, weight) in enumerate(transports):
        db.session.add(
            SenderTransport(
                project_id=project.id,
                sender_id=sender.id,
                name=name,
                url=url,
                weight=weight,
                position=position,
            )
        )
    db.session.commit()
    return project, sender, [t.id for t in sender.transports]


def launched(project, sender, count: int):
    campaign = make_campaign(project, sender, make_template(project), [make_list(project, count)])
    launch(project, campaign)
    return campaign


def campaign_with(transports: list[tuple[str, str, int]], count: int = 6):
    """A launched campaign whose sender has the given (name, url, weight) transports."""
    project, sender, ids = sender_with(transports)
    return launched(project, sender, count), ids


def rows(campaign_id: int) -> list[Delivery]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
    ).all()


def received(sink: SmtpSink) -> list[str]:
    return sorted(r for m in sink.messages for r in m.rcpt_tos)


@pytest.mark.parametrize("failure", ["421 at MAIL", "drops connections", "refuses connections"])
def test_a_failing_primary_hands_every_message_to_the_backup_at_once(servers, failure):
    if failure == "421 at MAIL":
        primary_url = servers(ClosingAtMail()).url
    elif failure == "drops connections":
        primary_url = servers(Dropper()).url
    else:
        primary_url = f"smtp://127.0.0.1:{free_port()}"
    backup = servers(SmtpSink())
    campaign, (primary_id, backup_id) = campaign_with(
        [("Primary", primary_url, 1), ("Backup", backup.url, 0)]
    )
    run_pipeline(campaign.id)
    deliveries = rows(campaign.id)
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    # Sent once each, on the first try: nothing was deferred or counted against anyone.
    assert [d.attempts for d in deliveries] == [1] * 6
    assert all(d.first_deferred_at is None for d in deliveries)
    assert len(backup.messages) == 6
    assert len(set(received(backup))) == 6
    health = shared_health()
    assert health.read(backup_id).sent == 6
    primary = health.read(primary_id)
    # Five errors in a row opened the breaker; the sixth message skipped the primary.
    assert primary.errors == 5
    assert primary.paused_for > 0


def test_lost_after_data_does_not_fail_over(servers):
    primary = servers(LostAfterData())
    backup = servers(SmtpSink())
    campaign, _ = campaign_with([("Primary", primary.url, 1), ("Backup", backup.url, 0)], 2)
    run_pipeline(campaign.id)
    # The primary may have the messages: a second send could deliver them twice.
    assert {d.status for d in rows(campaign.id)} == {DeliveryStatus.UNKNOWN}
    assert backup.messages == []


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("550 5.1.1 user unknown", DeliveryStatus.FAILED),
        ("450 4.2.1 mailbox busy", DeliveryStatus.DEFERRED),
        ("451 4.7.1 slow down, you are sending too fast", DeliveryStatus.DEFERRED),
    ],
)
def test_the_recipients_answer_and_throttling_do_not_fail_over(servers, reply, status):
    primary = servers(SmtpSink())
    backup = servers(SmtpSink())
    campaign, (primary_id, _) = campaign_with(
        [("Primary", primary.url, 1), ("Backup", backup.url, 0)], 1
    )
    emails = db.session.scalars(
        sa.select(Contact.email).where(Contact.project_id == campaign.project_id)
    )
    primary.rcpt_rules = dict.fromkeys(emails, reply)
    run_pipeline(campaign.id)
    assert [d.status for d in rows(campaign.id)] == [status]
    assert backup.messages == []
    # The relay answered: it is healthy, whatever the recipient's server said.
    assert shared_health().read(primary_id).consecutive == 0


def test_every_transport_failing_defers_the_message_as_before(servers):
    first, second = servers(Dropper()), servers(ClosingAtMail())
    campaign, _ = campaign_with([("A", first.url, 1), ("B", second.url, 1)], 2)
    run_pipeline(campaign.id)
    deliveries = rows(campaign.id)
    assert {d.status for d in deliveries} == {DeliveryStatus.DEFERRED}
    assert all(d.first_deferred_at is not None for d in deliveries)  # the retry clock runs
    assert first.accepted == 2  # each message tried on both
    assert second.mails == 2


def test_mail_is_shared_by_weight_and_a_message_sticks_to_its_relay(servers):
    heavy, light = servers(SmtpSink()), servers(SmtpSink())
    campaign, _ = campaign_with([("Heavy", heavy.url, 3), ("Light", light.url, 1)], 40)
    run_pipeline(campaign.id)
    assert len(heavy.messages) + len(light.messages) == 40
    assert 22 <= len(heavy.messages) <= 37  # about 30: deterministic per delivery id
    assert {d.status for d in rows(campaign.id)} == {DeliveryStatus.SENT}


def test_the_breaker_skips_a_dead_relay_then_tries_it_once(app, servers):
    app.config.update(TRANSPORT_BREAKER_ERRORS=2, TRANSPORT_PAUSE_SECONDS=1)
    dead, backup = servers(Dropper()), servers(SmtpSink())
    project, sender, (dead_id, _) = sender_with([("Dead", dead.url, 1), ("Backup", backup.url, 0)])
    run_pipeline(launched(project, sender, 8).id)
    assert dead.accepted == 2  # two errors in a row, then skipped
    assert len(backup.messages) == 8
    assert shared_health().read(dead_id).paused_for > 0
    time.sleep(1.1)  # the pause ends: one trial message, which fails and pauses it again
    run_pipeline(launched(project, sender, 4).id)
    assert dead.accepted == 3
    assert len(backup.messages) == 12


def test_mailgun_answering_503_fails_over_to_smtp_and_a_working_one_sends(servers):
    api = Receiver()
    try:
        api.statuses = [503, 200]
        backup = servers(SmtpSink())
        url = f"mailgun+http://api:key-1@127.0.0.1:{api.server.server_port}/v3/example.com"
        campaign, _ = campaign_with([("Mailgun", url, 1), ("Backup", backup.url, 0)], 2)
        run_pipeline(campaign.id)
    finally:
        api.close()
    assert {d.status for d in rows(campaign.id)} == {DeliveryStatus.SENT}
    assert len(api.requests) == 2  # the first answered 503, the second went through
    assert len(backup.messages) == 1
    assert b"DKIM-Signature:" in api.requests[1][2]  # signed by us, posted as it is


def test_a_transactional_message_fails_over_too(servers):
    dead, backup = servers(ClosingAtMail()), servers(SmtpSink())
    project, sender, _ = sender_with([("Dead", dead.url, 1), ("Backup", backup.url, 0)])
    message = submit_tx(project, sender_id=sender.id)
    assert send_message(message.id) == "sent"
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.status, stored.attempts) == (DeliveryStatus.SENT, 1)
    assert received(backup) == ["ada@example.org"]
    assert dead.mails == 1


def test_with_every_transport_switched_off_mail_waits_rather_than_use_smtp_url(app, servers):
    default = servers(SmtpSink())
    app.config["SMTP_URL"] = default.url
    off = servers(SmtpSink())
    project, sender, _ = sender_with([("Off", off.url, 1)])
    sender.transports[0].enabled = False
    db.session.commit()
    campaign = launched(project, sender, 2)
    run_pipeline(campaign.id)
    deliveries = rows(campaign.id)
    assert {d.status for d in deliveries} == {DeliveryStatus.DEFERRED}
    assert {d.last_reply for d in deliveries} == {"every transport of this sender is switched off"}
    assert default.messages == off.messages == []
