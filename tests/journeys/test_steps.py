"""Every step type, through wake_due on both databases."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.integrations.webhooks import create_endpoint, deliver_due
from mailapp.journeys.engine import deliver_event, wake_due
from mailapp.journeys.enrollment import enroll
from mailapp.models import (
    Contact,
    ContactTag,
    EnrollmentStatus,
    Event,
    EventType,
    ListMembership,
    WebhookAttempt,
)
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_contact, make_list, make_project
from tests.journeys.helpers import deliveries, email_steps, enrollment, ledger, published
from tests.support.http_receiver import Receiver


def run(project, steps, contact, *, data=None, now=None, settings=None, start=None):
    journey = published(project, steps, settings=settings, start=start)
    now = now or utcnow()
    enroll(project, journey.id, [contact.id], data=data, now=now)
    wake_due(now=now)
    return journey, enrollment(journey.id, contact.id)


def outcomes(entry):
    return [(step, outcome) for _seq, step, outcome in ledger(entry.id)]


def test_condition_on_a_segment_rule_and_on_event_data(app):
    project = make_project()
    berlin = make_contact(project, attributes={"city": "Berlin"})
    paris = make_contact(project, attributes={"city": "Paris"})
    steps = {
        "city": {
            "type": "condition",
            "rule": {"field": "attributes.city", "op": "eq", "value": "Berlin"},
            "yes": "big",
            "no": None,
        },
        "big": {
            "type": "condition",
            "rule": {"event_data": {"path": "cart.total", "op": "gt", "value": 100}},
            "yes": "won",
            "no": None,
        },
        "won": {"type": "goal"},
    }
    journey = published(project, steps)
    now = utcnow()
    enroll(project, journey.id, [berlin.id, paris.id], data={"cart": {"total": 150}}, now=now)
    wake_due(now=now)
    won, lost = enrollment(journey.id, berlin.id), enrollment(journey.id, paris.id)
    assert outcomes(won) == [("city", "yes"), ("big", "yes"), ("won", "goal")]
    assert won.status == EnrollmentStatus.GOAL
    assert outcomes(lost) == [("city", "no")]
    assert lost.status == EnrollmentStatus.COMPLETED


def test_condition_on_engagement_with_the_journeys_own_email(app):
    project = make_project()
    opener, other = make_contact(project), make_contact(project)
    template_id, sender_id = email_steps(project)
    steps = {
        "hello": {
            "type": "email",
            "template_id": template_id,
            "sender_id": sender_id,
            "next": "pause",
        },
        "pause": {"type": "wait", "mode": "duration", "minutes": 10, "next": "opened"},
        "opened": {
            "type": "condition",
            "rule": {"engagement": {"step": "hello", "action": "opened"}},
            "yes": None,
            "no": "exit",
        },
        "exit": {"type": "exit"},
    }
    journey = published(project, steps)
    now = utcnow()
    enroll(project, journey.id, [opener.id, other.id], now=now)
    wake_due(now=now)
    [delivery] = deliveries(opener.id)
    db.session.add(
        Event(
            project_id=project.id,
            type=EventType.OPEN,
            campaign_id=delivery.campaign_id,
            contact_id=opener.id,
            delivery_id=delivery.id,
        )
    )
    db.session.commit()
    wake_due(now=now + timedelta(minutes=11))
    assert enrollment(journey.id, opener.id).status == EnrollmentStatus.COMPLETED
    assert enrollment(journey.id, other.id).status == EnrollmentStatus.EXITED
    assert enrollment(journey.id, other.id).exit_reason == "exit: exit"


def test_split_is_deterministic_and_follows_the_percentages(app):
    project = make_project()
    contacts = [make_contact(project) for _ in range(60)]
    steps = {
        "ab": {
            "type": "split",
            "branches": [{"percent": 50, "next": "a"}, {"percent": 50, "next": "b"}],
        },
        "a": {"type": "update", "action": "add_tag", "tag": "arm-a", "next": None},
        "b": {"type": "update", "action": "add_tag", "tag": "arm-b", "next": None},
    }
    journey = published(project, steps)
    enroll(project, journey.id, [c.id for c in contacts])
    wake_due()
    tags = dict(
        db.session.execute(
            sa.select(ContactTag.tag, sa.func.count()).group_by(ContactTag.tag)
        ).all()
    )
    assert set(tags) == {"arm-a", "arm-b"}
    assert tags["arm-a"] + tags["arm-b"] == 60
    assert 15 <= tags["arm-a"] <= 45
    for contact in contacts[:5]:
        entry = enrollment(journey.id, contact.id)
        arm = outcomes(entry)[0][1]
        assert arm in ("branch:a", "branch:b")
        assert outcomes(entry)[1][0] == arm[-1]


def test_update_steps_change_the_contact(app):
    project = make_project()
    lst, other = make_list(project), make_list(project)
    contact = make_contact(project, attributes={"plan": "free"})
    db.session.add(
        ListMembership(
            project_id=project.id, list_id=other.id, contact_id=contact.id, status="confirmed"
        )
    )
    db.session.commit()
    steps = {
        "plan": {
            "type": "update",
            "action": "set_attribute",
            "name": "stage",
            "value": "onboarded",
            "next": "tag",
        },
        "tag": {"type": "update", "action": "add_tag", "tag": "new", "next": "join"},
        "join": {"type": "update", "action": "add_to_list", "list_id": lst.id, "next": "leave"},
        "leave": {
            "type": "update",
            "action": "remove_from_list",
            "list_id": other.id,
            "next": None,
        },
    }
    _journey, entry = run(project, steps, contact)
    assert [o for _s, o in outcomes(entry)] == ["updated"] * 4
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).attributes == {"plan": "free", "stage": "onboarded"}
    assert (
        db.session.scalar(sa.select(ContactTag.tag).where(ContactTag.contact_id == contact.id))
        == "new"
    )
    lists = set(
        db.session.scalars(
            sa.select(ListMembership.list_id).where(ListMembership.contact_id == contact.id)
        )
    )
    assert lists == {lst.id}


def test_webhook_step_queues_a_signed_call_made_once(app):
    receiver = Receiver()
    try:
        project = make_project()
        endpoint, secret = create_endpoint(
            project.id, receiver.url, allow_private=True, actor=TEST_ACTOR
        )
        contact = make_contact(project)
        steps = {"tell": {"type": "webhook", "endpoint_id": endpoint.id, "next": None}}
        _journey, entry = run(project, steps, contact, data={"order_id": "A-1"})
        assert outcomes(entry) == [("tell", "called")]
        assert wake_due()["claimed"] == 0
        assert deliver_due() == 1
        assert deliver_due() == 0
        [(_path, headers, body)] = receiver.requests
        expected = hmac.new(
            secret.encode(), headers["X-Mailapp-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Mailapp-Signature"] == f"v1={expected}"
        payload = json.loads(body)
        assert payload["type"] == "journey.step"
        assert payload["data"]["contact"]["id"] == contact.id
        assert payload["data"]["event"] == {"order_id": "A-1"}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookAttempt)) == 1
    finally:
        receiver.close()


def test_wait_until_a_weekday_and_time_in_the_contacts_zone(app):
    project = make_project()
    contact = make_contact(project, timezone="America/New_York")
    steps = {
        "monday": {"type": "wait", "mode": "until", "weekdays": [0], "time": "09:00", "next": None}
    }
    friday = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    _journey, entry = run(project, steps, contact, now=friday)
    assert entry.status == EnrollmentStatus.WAITING
    assert entry.wake_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 09:00 in New York


@pytest.mark.parametrize("arrives", [True, False])
def test_wait_for_an_event_or_its_timeout(app, arrives):
    project = make_project()
    contact = make_contact(project)
    steps = {
        "cart": {
            "type": "wait",
            "mode": "event",
            "event": "purchase",
            "timeout_minutes": 60,
            "next": "thanks",
            "timeout_next": "nudge",
        },
        "thanks": {"type": "update", "action": "add_tag", "tag": "bought", "next": None},
        "nudge": {"type": "update", "action": "add_tag", "tag": "nudged", "next": None},
    }
    now = utcnow()
    journey, entry = run(project, steps, contact, now=now)
    assert entry.waiting_for == "purchase"
    later = now + timedelta(minutes=5 if arrives else 61)
    if arrives:
        assert (
            deliver_event(project, contact.id, "purchase", {"order_id": "B-2"}, now=later)["woken"]
            == 1
        )
        db.session.commit()
    wake_due(now=later)
    entry = enrollment(journey.id, contact.id)
    assert entry.status == EnrollmentStatus.COMPLETED
    expected = (
        [("cart", "event"), ("thanks", "updated")]
        if arrives
        else [("cart", "timeout"), ("nudge", "updated")]
    )
    assert outcomes(entry) == expected
    if arrives:
        assert entry.data == {"order_id": "B-2"}


def test_goal_and_exit_events_end_the_enrollment(app):
    project = make_project()
    buyer, leaver = make_contact(project), make_contact(project)
    steps = {"pause": {"type": "wait", "mode": "duration", "minutes": 600, "next": None}}
    journey = published(
        project, steps, settings={"goal": {"event": "purchase"}, "exit_on_event": "cancelled"}
    )
    enroll(project, journey.id, [buyer.id, leaver.id])
    wake_due()
    assert deliver_event(project, buyer.id, "purchase", {})["goal"] == 1
    assert deliver_event(project, leaver.id, "cancelled", {})["exited"] == 1
    db.session.commit()
    assert enrollment(journey.id, buyer.id).status == EnrollmentStatus.GOAL
    assert enrollment(journey.id, buyer.id).exit_reason == "goal: purchase"
    assert enrollment(journey.id, leaver.id).exit_reason == "event: cancelled"


def test_a_goal_rule_ends_the_enrollment_at_its_next_wake(app):
    project = make_project()
    contact = make_contact(project)
    steps = {
        "pause": {"type": "wait", "mode": "duration", "minutes": 10, "next": "tag"},
        "tag": {"type": "update", "action": "add_tag", "tag": "late", "next": None},
    }
    now = utcnow()
    journey, _entry = run(
        project,
        steps,
        contact,
        now=now,
        settings={"goal": {"rule": {"field": "tag", "op": "has", "value": "vip"}}},
    )
    db.session.add(ContactTag(project_id=project.id, contact_id=contact.id, tag="vip"))
    db.session.commit()
    wake_due(now=now + timedelta(minutes=11))
    entry = enrollment(journey.id, contact.id)
    assert entry.status == EnrollmentStatus.GOAL
    assert "late" not in set(db.session.scalars(sa.select(ContactTag.tag)))


def test_a_failing_step_is_set_aside_and_the_batch_goes_on(app):
    from mailapp.models import JourneyVersion

    project = make_project()
    broken_contact, fine_contact = make_contact(project), make_contact(project)
    steps = {"tag": {"type": "update", "action": "add_tag", "tag": "ok", "next": None}}
    broken, fine = published(project, steps), published(project, steps)
    version = db.session.get(JourneyVersion, broken.published_version_id)
    version.graph = {"start": "tag", "steps": {"tag": {"type": "update", "action": "add_tag"}}}
    db.session.commit()
    now = utcnow()
    enroll(project, broken.id, [broken_contact.id], now=now)
    enroll(project, fine.id, [fine_contact.id], now=now)
    counts = wake_due(now=now)
    assert counts["failed"] == 1
    assert enrollment(fine.id, fine_contact.id).status == EnrollmentStatus.COMPLETED
    parked = enrollment(broken.id, broken_contact.id)
    assert parked.status == EnrollmentStatus.ACTIVE
    assert parked.seq == 0
    assert parked.wake_at == now + timedelta(minutes=15)
    assert ledger(parked.id) == []
    assert wake_due(now=now + timedelta(minutes=1))["claimed"] == 0
