"""The engine: steps run once each, email goes through the campaign path, waits are rows."""

import email
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from mailapp.access.project_settings import update_sending_settings
from mailapp.audience.suppression import suppress
from mailapp.extensions import db
from mailapp.journeys.engine import wake_due
from mailapp.journeys.enrollment import enroll
from mailapp.models import (
    Campaign,
    CampaignStatus,
    DeliveryStatus,
    EnrollmentStatus,
    EnrollmentStep,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
)
from tests.journeys.helpers import deliveries, email_steps, enrollment, ledger, published
from tests.support.pipeline import pipeline_sink, run_pipeline


def two_emails(project, minutes=60):
    template_id, sender_id = email_steps(project)
    return {
        "hello": {
            "type": "email",
            "template_id": template_id,
            "sender_id": sender_id,
            "next": "pause",
        },
        "pause": {"type": "wait", "mode": "duration", "minutes": minutes, "next": "again"},
        "again": {
            "type": "email",
            "template_id": template_id,
            "sender_id": sender_id,
            "next": None,
        },
    }


def test_email_step_goes_through_the_campaign_path_with_the_event_data(app):
    project = make_project()
    contact = make_contact(project, first_name="Ada")
    journey = published(project, two_emails(project))
    now = utcnow()
    assert enroll(project, journey.id, [contact.id], data={"order_id": "A-17"}, now=now) == 1
    counts = wake_due(now=now)
    assert counts["claimed"] == 1
    assert counts["emails"] == 1
    [row] = deliveries(contact.id)
    assert row.round == 1
    assert row.status == DeliveryStatus.QUEUED
    campaign = db.session.get(Campaign, row.campaign_id)
    assert campaign.journey_step == "hello"
    assert campaign.status == CampaignStatus.SENDING
    with pipeline_sink(app) as sink:
        run_pipeline(campaign.id)
    [message] = sink.messages
    assert message.rcpt_tos == [contact.email]
    parsed = email.message_from_bytes(message.data)
    assert parsed["Subject"] == "Order A-17"
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    assert "Your order A-17 is on its way" in html.get_payload(decode=True).decode()
    # The pipeline never finishes a journey's campaign: the journey adds rows later.
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SENDING
    assert deliveries(contact.id)[0].status == DeliveryStatus.SENT


def test_a_wait_is_a_row_woken_when_due_and_no_step_runs_twice(app):
    project = make_project()
    contact = make_contact(project)
    journey = published(project, two_emails(project, minutes=60))
    now = utcnow()
    enroll(project, journey.id, [contact.id], now=now)
    wake_due(now=now)
    entry = enrollment(journey.id, contact.id)
    assert entry.status == EnrollmentStatus.WAITING
    assert entry.step == "pause"
    assert entry.wake_at == now + timedelta(minutes=60)
    assert wake_due(now=now + timedelta(minutes=59)) == {"claimed": 0}
    assert wake_due(now=now)["claimed"] == 0  # run again: nothing is repeated
    wake_due(now=now + timedelta(minutes=61))
    wake_due(now=now + timedelta(minutes=62))
    entry = enrollment(journey.id, contact.id)
    assert entry.status == EnrollmentStatus.COMPLETED
    assert ledger(entry.id) == [(0, "hello", "sent"), (1, "pause", "waited"), (2, "again", "sent")]
    assert len(deliveries(contact.id)) == 2


def test_an_unsubscribe_between_two_emails_stops_the_second(app):
    project = make_project()
    contact = make_contact(project)
    journey = published(project, two_emails(project))
    now = utcnow()
    enroll(project, journey.id, [contact.id], now=now)
    wake_due(now=now)
    suppress(project.id, contact.email, SuppressionReason.UNSUBSCRIBE, actor=TEST_ACTOR)
    wake_due(now=now + timedelta(minutes=61))
    entry = enrollment(journey.id, contact.id)
    assert entry.status == EnrollmentStatus.EXITED
    assert entry.exit_reason in ("unsubscribed", "suppressed")
    assert len(deliveries(contact.id)) == 1
    assert ledger(entry.id)[-1][2].startswith("skipped: ")


def test_an_unsubscribe_after_the_email_was_queued_stops_it_at_send(app):
    project = make_project()
    contact = make_contact(project)
    journey = published(project, two_emails(project))
    now = utcnow()
    enroll(project, journey.id, [contact.id], now=now)
    wake_due(now=now)
    suppress(project.id, contact.email, SuppressionReason.UNSUBSCRIBE, actor=TEST_ACTOR)
    with pipeline_sink(app) as sink:
        run_pipeline(deliveries(contact.id)[0].campaign_id)
    assert sink.messages == []
    assert deliveries(contact.id)[0].status == DeliveryStatus.SUPPRESSED


def test_a_suppressed_contact_never_enters(app):
    project = make_project()
    contact = make_contact(project)
    suppress(project.id, contact.email, SuppressionReason.MANUAL, actor=TEST_ACTOR)
    journey = published(project, two_emails(project))
    assert enroll(project, journey.id, [contact.id]) == 0


def test_wake_twice_at_once_never_repeats_a_step(app):
    """Two wakes racing over the same due rows (two threads, two connections)."""
    project = make_project()
    contacts = [make_contact(project) for _ in range(30)]
    journey = published(project, two_emails(project))
    now = utcnow()
    enroll(project, journey.id, [c.id for c in contacts], now=now)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def wake():
        with app.app_context():
            try:
                barrier.wait()
                results.append(wake_due(now=now, limit=20))
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=wake) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    while wake_due(now=now)["claimed"]:
        pass
    assert sum(r["claimed"] for r in results) <= 30
    steps = db.session.execute(
        sa.select(EnrollmentStep.enrollment_id, sa.func.count()).group_by(
            EnrollmentStep.enrollment_id
        )
    ).all()
    assert len(steps) == 30
    assert {n for _, n in steps} == {1}
    assert sum(len(deliveries(c.id)) for c in contacts) == 30


@pytest.mark.parametrize(
    ("policy", "days", "expected"),
    [
        ("once", None, [1, 0, 0]),
        ("one_at_a_time", None, [1, 0, 1]),
        ("after_days", 30, [1, 0, 0]),
    ],
)
def test_reentry_policies(app, policy, days, expected):
    project = make_project()
    contact = make_contact(project)
    template_id, sender_id = email_steps(project)
    steps = {
        "hello": {"type": "email", "template_id": template_id, "sender_id": sender_id, "next": None}
    }
    journey = published(project, steps, settings={"reentry": policy, "reentry_days": days})
    now = utcnow()
    got = [enroll(project, journey.id, [contact.id], now=now)]
    got.append(enroll(project, journey.id, [contact.id], now=now))  # still inside
    wake_due(now=now)  # the only step runs: the pass ends
    got.append(enroll(project, journey.id, [contact.id], now=now + timedelta(days=1)))
    assert got == expected
    if policy == "after_days":
        assert enroll(project, journey.id, [contact.id], now=now + timedelta(days=31)) == 1
        assert enrollment(journey.id, contact.id).round == 2


def test_journey_mail_obeys_the_frequency_cap_and_quiet_hours(app):
    project = make_project()
    capped, quiet = make_contact(project), make_contact(project)
    make_delivery(make_sent_campaign(project), capped, sent_minutes_ago=30)
    update_sending_settings(project, {"frequency_cap_7d": "1"}, actor=TEST_ACTOR)
    template_id, sender_id = email_steps(project)
    steps = {
        "hello": {"type": "email", "template_id": template_id, "sender_id": sender_id, "next": None}
    }
    journey = published(project, steps)
    enroll(project, journey.id, [capped.id])
    wake_due()
    with pipeline_sink(app) as sink:
        run_pipeline(deliveries(capped.id)[-1].campaign_id)
        assert sink.messages == []
        assert (deliveries(capped.id)[-1].status, deliveries(capped.id)[-1].reason) == (
            DeliveryStatus.SUPPRESSED,
            "frequency cap",
        )
        local = utcnow().astimezone(ZoneInfo(project.timezone))
        update_sending_settings(
            project,
            {
                "frequency_cap_7d": "",
                "quiet_hours_start": f"{local - timedelta(hours=1):%H:%M}",
                "quiet_hours_end": f"{local + timedelta(hours=2):%H:%M}",
            },
            actor=TEST_ACTOR,
        )
        enroll(project, journey.id, [quiet.id])
        wake_due()
        [row] = deliveries(quiet.id)
        run_pipeline(row.campaign_id)
        assert sink.messages == []
        [row] = deliveries(quiet.id)
        assert row.status == DeliveryStatus.QUEUED
        assert row.scheduled_at > utcnow() + timedelta(hours=1, minutes=50)
