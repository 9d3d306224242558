"""Drafts, checks, versions, pause/resume/stop, counts and a contact's walk."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.audience.segments.store import save_segment
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.journeys.engine import wake_due
from mailapp.journeys.enrollment import enroll, unenroll
from mailapp.journeys.graph import check_graph, check_settings, check_trigger
from mailapp.journeys.journeys import (
    PublishRefused,
    create_journey,
    pause_journey,
    publish_journey,
    resume_journey,
    step_counts,
    stop_journey,
    update_draft,
    walk,
)
from mailapp.models import (
    Campaign,
    CampaignStatus,
    DeliveryStatus,
    EnrollmentStatus,
    JourneyStatus,
    JourneyVersion,
)
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_contact, make_project
from tests.journeys.helpers import deliveries, email_steps, enrollment, published


def mail(template_id, sender_id, nxt=None):
    return {"type": "email", "template_id": template_id, "sender_id": sender_id, "next": nxt}


def test_graph_refusals_name_the_step(app):
    project = make_project()
    template_id, sender_id = email_steps(project)
    graph = {
        "start": "a",
        "steps": {
            "a": mail(template_id, sender_id, "b"),
            "b": {"type": "wait", "mode": "duration", "minutes": 0, "next": "nowhere"},
            "c": {
                "type": "split",
                "branches": [{"percent": 60, "next": None}, {"percent": 30, "next": None}],
            },
            "d": {"type": "email", "template_id": 999999, "sender_id": sender_id, "next": None},
            "e": {"type": "teleport"},
        },
    }
    problems = {(p.step, p.message) for p in check_graph(graph, project)}
    steps = {step for step, _ in problems}
    assert {"b", "c", "d", "e"} <= steps
    assert ("b", "leads to “nowhere”, which is not a step") in problems
    assert any(s == "c" and "100" in m for s, m in problems)
    assert any(s == "d" and "template" in m for s, m in problems)


def test_loops_and_unreachable_steps_are_refused(app):
    project = make_project()
    graph = {
        "start": "a",
        "steps": {
            "a": {"type": "wait", "mode": "duration", "minutes": 5, "next": "b"},
            "b": {"type": "wait", "mode": "duration", "minutes": 5, "next": "a"},
            "lonely": {"type": "exit"},
        },
    }
    problems = {(p.step, p.message) for p in check_graph(graph, project)}
    assert ("b", "leads back to “a”: a loop never ends") in problems
    assert ("lonely", "no path from the start reaches this step") in problems


def test_publish_refuses_with_problems_and_freezes_a_version(app):
    project = make_project()
    template_id, sender_id = email_steps(project)
    journey = create_journey(project, "Welcome", actor=TEST_ACTOR)
    with pytest.raises(PublishRefused) as refused:
        publish_journey(project, journey.id, actor=TEST_ACTOR)
    assert "no steps" in str(refused.value)
    graph = {"start": "a", "steps": {"a": mail(template_id, sender_id)}}
    update_draft(project, journey.id, actor=TEST_ACTOR, graph=graph)
    version = publish_journey(project, journey.id, actor=TEST_ACTOR)
    assert version.number == 1
    assert db.session.get(type(journey), journey.id).status == JourneyStatus.ACTIVE
    # Editing the draft afterwards does not change what was published.
    update_draft(project, journey.id, actor=TEST_ACTOR, graph={"start": None, "steps": {}})
    assert db.session.get(JourneyVersion, version.id).graph == graph
    [campaign] = db.session.scalars(
        sa.select(Campaign).where(Campaign.journey_version_id == version.id)
    ).all()
    assert campaign.status == CampaignStatus.SENDING
    assert campaign.snapshot["variants"][0]["version_id"]
    assert campaign.snapshot["prepared_at"]


def test_a_second_publish_leaves_enrolled_contacts_on_their_version(app):
    project = make_project()
    template_id, sender_id = email_steps(project)
    early, late = make_contact(project), make_contact(project)
    steps = {
        "pause": {"type": "wait", "mode": "duration", "minutes": 30, "next": "a"},
        "a": mail(template_id, sender_id),
    }
    journey = published(project, steps)
    now = utcnow()
    enroll(project, journey.id, [early.id], now=now)
    wake_due(now=now)
    steps2 = dict(steps, a=dict(steps["a"], next="b"), b={"type": "exit"})
    update_draft(project, journey.id, actor=TEST_ACTOR, graph={"start": "pause", "steps": steps2})
    second = publish_journey(project, journey.id, actor=TEST_ACTOR)
    enroll(project, journey.id, [late.id], now=now)
    wake_due(now=now)
    wake_due(now=now + timedelta(minutes=31))
    first = enrollment(journey.id, early.id)
    assert first.version_id != second.id
    assert first.status == EnrollmentStatus.COMPLETED
    newer = enrollment(journey.id, late.id)
    assert newer.version_id == second.id
    assert newer.status == EnrollmentStatus.EXITED
    # Each version's email step has its own campaign.
    assert deliveries(early.id)[0].campaign_id != deliveries(late.id)[0].campaign_id


def test_pause_holds_everyone_and_its_mail_resume_carries_on(app):
    project = make_project()
    template_id, sender_id = email_steps(project)
    contact = make_contact(project)
    journey = published(project, {"a": mail(template_id, sender_id)})
    now = utcnow()
    pause_journey(project, journey.id, actor=TEST_ACTOR)
    with pytest.raises(ServiceError):
        enroll(project, journey.id, [contact.id], now=now)
    resume_journey(project, journey.id, actor=TEST_ACTOR)
    enroll(project, journey.id, [contact.id], now=now)
    pause_journey(project, journey.id, actor=TEST_ACTOR)
    assert wake_due(now=now)["claimed"] == 0
    assert enrollment(journey.id, contact.id).status == EnrollmentStatus.ACTIVE
    campaign_status = db.session.scalar(
        sa.select(Campaign.status).where(Campaign.journey_step == "a")
    )
    assert campaign_status == CampaignStatus.PAUSED
    resume_journey(project, journey.id, actor=TEST_ACTOR)
    assert wake_due(now=now)["claimed"] == 1
    assert enrollment(journey.id, contact.id).status == EnrollmentStatus.COMPLETED


def test_stop_takes_everyone_out_and_cancels_queued_mail(app):
    project = make_project()
    template_id, sender_id = email_steps(project)
    contact, other = make_contact(project), make_contact(project)
    steps = {
        "a": mail(template_id, sender_id, "pause"),
        "pause": {"type": "wait", "mode": "duration", "minutes": 5, "next": None},
    }
    journey = published(project, steps)
    now = utcnow()
    enroll(project, journey.id, [contact.id, other.id], now=now)
    wake_due(now=now)
    stop_journey(project, journey.id, actor=TEST_ACTOR)
    entry = enrollment(journey.id, contact.id)
    assert entry.status == EnrollmentStatus.EXITED
    assert entry.exit_reason == "stopped"
    assert deliveries(contact.id)[0].status == DeliveryStatus.FAILED
    assert wake_due(now=now + timedelta(minutes=10))["claimed"] == 0
    with pytest.raises(ServiceError):
        publish_journey(project, journey.id, actor=TEST_ACTOR)


def test_unenroll_and_step_counts(app):
    project = make_project()
    template_id, sender_id = email_steps(project)
    a, b, c = (make_contact(project) for _ in range(3))
    steps = {
        "a": mail(template_id, sender_id, "pause"),
        "pause": {"type": "wait", "mode": "duration", "minutes": 5, "next": None},
    }
    journey = published(project, steps)
    now = utcnow()
    enroll(project, journey.id, [a.id, b.id, c.id], now=now)
    wake_due(now=now)
    left = unenroll(project, journey.id, c.id, actor=TEST_ACTOR)
    assert left.exit_reason == "manual"
    assert deliveries(c.id)[0].status == DeliveryStatus.FAILED
    counts = step_counts(project, journey.id)
    assert counts["a"] == {"waiting": 0, "passed": 3, "left": 0}
    assert counts["pause"] == {"waiting": 2, "passed": 0, "left": 1}


def test_walk_shows_the_history_then_the_path_ahead(app):
    project = make_project()
    template_id, sender_id = email_steps(project)
    vip = make_contact(project, attributes={"vip": "yes"})
    steps = {
        "hello": mail(template_id, sender_id, "pause"),
        "pause": {"type": "wait", "mode": "duration", "minutes": 60, "next": "vip"},
        "vip": {
            "type": "condition",
            "rule": {"field": "attributes.vip", "op": "eq", "value": "yes"},
            "yes": "perk",
            "no": None,
        },
        "perk": mail(template_id, sender_id),
    }
    journey = published(project, steps)
    now = utcnow()
    ahead = walk(project, journey.id, vip.id, now=now)
    assert [(s.step, s.outcome, s.done) for s in ahead] == [
        ("hello", "would send", False),
        ("pause", "waits", False),
        ("vip", "yes", False),
        ("perk", "would send", False),
    ]
    assert ahead[-1].at == now + timedelta(minutes=60)
    enroll(project, journey.id, [vip.id], now=now)
    wake_due(now=now)
    walked = walk(project, journey.id, vip.id, now=now)
    assert [(s.step, s.outcome, s.done) for s in walked][:2] == [
        ("hello", "sent", True),
        ("pause", "waits", False),
    ]
    assert walked[-1].step == "perk"


def test_a_segment_enrolls_in_bulk_and_trigger_and_settings_are_checked(app):
    project = make_project()
    berliners = [make_contact(project, attributes={"city": "Berlin"}) for _ in range(3)]
    make_contact(project, attributes={"city": "Paris"})
    segment = save_segment(
        project.id,
        "Berlin",
        {"field": "attributes.city", "op": "eq", "value": "Berlin"},
        actor=TEST_ACTOR,
    )
    steps = {"pause": {"type": "wait", "mode": "duration", "minutes": 5, "next": None}}
    journey = published(project, steps)
    assert enroll(project, journey.id, segment.id) == 3
    assert {enrollment(journey.id, c.id).round for c in berliners} == {1}
    assert check_trigger({"type": "list_joined", "list_id": 999999}, project)
    assert check_trigger({"type": "event", "name": "cart_abandoned"}, project) == []
    assert check_trigger({"type": "teleport"}, project)
    assert check_settings({"reentry": "after_days"})  # how many days?
    assert check_settings({"reentry": "after_days", "reentry_days": 30}) == []
    assert check_settings({"goal": {"rule": {"field": "nope", "op": "eq", "value": 1}}})
