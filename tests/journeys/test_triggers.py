"""Journey triggers: each type enrolls the right contacts once, from durable rows after a cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from mailapp.audience.confirmation_mail import confirmation_url
from mailapp.audience.lists import add_contacts, create_list
from mailapp.audience.segments.store import save_segment
from mailapp.audience.subscriptions import confirm_subscription, subscribe
from mailapp.audience.tags import tag_contacts
from mailapp.extensions import db
from mailapp.journeys.candidates import SETTLE
from mailapp.journeys.journeys import create_journey, publish_journey
from mailapp.journeys.posted_events import record_event
from mailapp.journeys.triggers import scan_triggers
from mailapp.models import (
    CampaignEngagement,
    Enrollment,
    Event,
    EventType,
    JourneyCursor,
    OptIn,
)
from mailapp.models.base import utcnow
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
)

HOLD = {
    "start": "hold",
    "steps": {"hold": {"type": "wait", "mode": "duration", "minutes": 10080, "next": None}},
}


def running(project, trigger: dict, settings: dict | None = None):
    """A published (running) journey with this trigger that holds its contacts a week."""
    journey = create_journey(
        project,
        f"journey {trigger['type']}",
        actor=TEST_ACTOR,
        trigger=trigger,
        graph=HOLD,
        settings=settings or {"reentry": "once"},
    )
    publish_journey(project, journey.id, actor=TEST_ACTOR)
    return journey


def enrolled(journey) -> list[int]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(
            sa.select(Enrollment.contact_id).where(Enrollment.journey_id == journey.id)
        )
    )


def later() -> datetime:
    """A scan's `now` whose window ends at this moment: the rows written so far have settled."""
    return utcnow() + SETTLE


def test_joining_a_list_enrolls_once_and_the_cursor_survives(app):
    project = make_project()
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    other = create_list(project.id, "Other", actor=TEST_ACTOR)
    journey = running(project, {"type": "list_joined", "list_id": news.id})
    before = make_contact(project)
    add_contacts(project.id, news.id, [before.id], actor=TEST_ACTOR)
    scan_triggers(now=later())  # the first scan starts from now: history is not replayed
    assert enrolled(journey) == []
    ann, bob = make_contact(project), make_contact(project)
    add_contacts(project.id, news.id, [ann.id], actor=TEST_ACTOR)
    add_contacts(project.id, other.id, [bob.id], actor=TEST_ACTOR)
    start = db.session.get(JourneyCursor, "list_joined").position
    counts = scan_triggers(now=later())
    assert counts["list_joined"] == 1
    assert enrolled(journey) == [ann.id]
    assert db.session.get(JourneyCursor, "list_joined").position > start
    assert scan_triggers(now=later())["list_joined"] == 0
    # The same window read again (a crash before the cursor was saved) enrolls nobody.
    db.session.get(JourneyCursor, "list_joined").position = start
    db.session.commit()
    assert scan_triggers(now=later())["list_joined"] == 0
    assert enrolled(journey) == [ann.id]


def test_a_double_opt_in_list_enrolls_only_after_the_confirmation(app):
    project = make_project()
    news = create_list(project.id, "News", actor=TEST_ACTOR, opt_in=OptIn.DOUBLE)
    journey = running(project, {"type": "list_joined", "list_id": news.id})
    scan_triggers(now=later())
    pending = subscribe(
        project.id, news.id, {"email": "ann@example.org"}, actor=TEST_ACTOR, source="api"
    )
    assert pending.needs_confirmation
    scan_triggers(now=later())
    assert enrolled(journey) == []
    token = urlsplit(confirmation_url(news.id, pending.contact_id)).path.rsplit("/", 1)[1]
    confirm_subscription(token)
    scan_triggers(now=later())
    assert enrolled(journey) == [pending.contact_id]


def test_a_tag_enrolls_its_holders_once(app):
    project = make_project()
    journey = running(project, {"type": "tag_added", "tag": "vip"})
    ann, bob = make_contact(project), make_contact(project)
    tag_contacts(project.id, [ann.id], "vip", actor=TEST_ACTOR)
    tag_contacts(project.id, [bob.id], "other", actor=TEST_ACTOR)
    scan_triggers(now=later())
    scan_triggers(now=later())
    assert enrolled(journey) == [ann.id]
    tag_contacts(project.id, [bob.id], "vip", actor=TEST_ACTOR)
    scan_triggers(now=later())
    scan_triggers(now=later())
    assert enrolled(journey) == [ann.id, bob.id]


def test_entering_a_segment_is_found_among_the_contacts_that_changed(app):
    project = make_project()
    segment = save_segment(
        project.id,
        "Berliners",
        {"field": "attributes.city", "op": "eq", "value": "Berlin"},
        actor=TEST_ACTOR,
    )
    journey = running(project, {"type": "segment_entered", "segment_id": segment.id})
    already = make_contact(project, attributes={"city": "Berlin"})
    mover = make_contact(project, attributes={"city": "Paris"})
    scan_triggers(now=later())
    # Nobody changed: the segment is not evaluated over everyone again.
    scan_triggers(now=later())
    assert enrolled(journey) == []
    mover.attributes = {"city": "Berlin"}
    db.session.commit()
    scan_triggers(now=later())
    assert enrolled(journey) == [mover.id]
    mover.first_name = "Moved"
    db.session.commit()
    scan_triggers(now=later())
    assert enrolled(journey) == [mover.id]
    assert already.id not in enrolled(journey)


def test_an_event_enrolls_with_its_data_and_a_replayed_key_writes_nothing(app):
    project = make_project()
    journey = running(project, {"type": "event", "name": "cart_abandoned"})
    ann = make_contact(project, email="ann@example.org")
    scan_triggers(now=later())
    first, created = record_event(
        project,
        "cart_abandoned",
        email="ANN@example.org",
        data={"cart": {"total": 42}},
        idempotency_key="k-1",
    )
    again, created_again = record_event(
        project,
        "cart_abandoned",
        email="ann@example.org",
        data={"cart": {"total": 42}},
        idempotency_key="k-1",
    )
    assert created
    assert not created_again
    assert again.id == first.id
    bob = make_contact(project)
    record_event(project, "cart_abandoned", contact_id=bob.id, data={"cart": {"total": 7}})
    record_event(project, "purchase", contact_id=ann.id)
    assert scan_triggers(now=later())["event"] == 2
    assert scan_triggers(now=later())["event"] == 0
    entered = db.session.execute(
        sa.select(Enrollment.contact_id, Enrollment.data).where(Enrollment.journey_id == journey.id)
    ).all()
    # Each enrollment keeps its own event's data ({{ event.cart.total }} in its emails).
    assert sorted(entered) == [(ann.id, {"cart": {"total": 42}}), (bob.id, {"cart": {"total": 7}})]


def test_opens_and_clicks_of_a_campaign_enroll_humans_once(app):
    project = make_project()
    campaign = make_sent_campaign(project)
    opened = running(
        project, {"type": "engagement", "campaign_id": campaign.id, "action": "opened"}
    )
    clicked = running(
        project, {"type": "engagement", "campaign_id": campaign.id, "action": "clicked"}
    )
    ann, bob, cat = (make_contact(project) for _ in range(3))
    scan_triggers(now=later())

    def hit(contact, kind, machine=False):
        db.session.add(
            Event(
                project_id=project.id,
                type=kind,
                campaign_id=campaign.id,
                contact_id=contact.id,
                is_machine=machine,
            )
        )
        db.session.commit()

    hit(ann, EventType.OPEN)
    hit(ann, EventType.OPEN)
    hit(bob, EventType.CLICK)
    hit(cat, EventType.OPEN, machine=True)
    scan_triggers(now=later())
    hit(ann, EventType.OPEN)
    scan_triggers(now=later())
    assert enrolled(opened) == sorted([ann.id, bob.id])
    assert enrolled(clicked) == [bob.id]


def test_not_opening_within_days_enrolls_each_silent_recipient_once(app):
    project = make_project()
    campaign = make_sent_campaign(project)
    journey = running(
        project,
        {
            "type": "engagement",
            "campaign_id": campaign.id,
            "action": "not_opened",
            "within_days": 3,
        },
    )
    reader, silent, recent = (make_contact(project) for _ in range(3))
    now = utcnow()
    scan_triggers(now=now)
    for contact in (reader, silent):
        make_delivery(campaign, contact, sent_at=now - timedelta(days=3, minutes=-1))
    make_delivery(campaign, recent, sent_at=now - timedelta(days=1))
    db.session.add(
        CampaignEngagement(
            project_id=project.id,
            campaign_id=campaign.id,
            contact_id=reader.id,
            opens=1,
            first_opened_at=now,
        )
    )
    db.session.commit()
    scan_triggers(now=now + timedelta(minutes=2))
    assert enrolled(journey) == [silent.id]
    scan_triggers(now=now + timedelta(minutes=4))
    assert enrolled(journey) == [silent.id]


def test_a_birthday_starts_at_nine_in_the_contacts_own_zone(app):
    project = make_project()
    journey = running(
        project,
        {
            "type": "date",
            "attribute": "birthday",
            "offset_days": 0,
            "time": "09:00",
            "yearly": True,
        },
    )
    berlin = make_contact(project, timezone="Europe/Berlin", attributes={"birthday": "1990-12-20"})
    york = make_contact(project, timezone="America/New_York", attributes={"birthday": "1985-12-20"})
    no_zone = make_contact(project, attributes={"birthday": "2001-12-20"})  # the project's: UTC
    make_contact(project, timezone="Europe/Berlin", attributes={"birthday": "1990-12-21"})
    day = datetime(2026, 12, 20, tzinfo=UTC)
    scan_triggers(now=day + timedelta(hours=7, minutes=59))  # 08:59 in Berlin
    assert enrolled(journey) == []
    scan_triggers(now=day + timedelta(hours=8, seconds=30))  # 09:00:30 in Berlin
    assert enrolled(journey) == [berlin.id]
    scan_triggers(now=day + timedelta(hours=9, seconds=30))  # 09:00:30 UTC
    assert enrolled(journey) == sorted([berlin.id, no_zone.id])
    scan_triggers(now=day + timedelta(hours=14, seconds=30))  # 09:00:30 in New York
    scan_triggers(now=day + timedelta(hours=15))
    assert enrolled(journey) == sorted([berlin.id, york.id, no_zone.id])


def test_a_renewal_seven_days_before(app):
    project = make_project()
    journey = running(
        project,
        {
            "type": "date",
            "attribute": "renews_on",
            "offset_days": -7,
            "time": "10:00",
            "yearly": False,
        },
    )
    soon = make_contact(project, attributes={"renews_on": "2026-12-27"})
    make_contact(project, attributes={"renews_on": "2027-12-27"})
    scan_triggers(now=datetime(2026, 12, 20, 10, 1, tzinfo=UTC))
    assert enrolled(journey) == [soon.id]


def test_a_paused_journey_is_not_scanned(app):
    from mailapp.journeys.journeys import pause_journey

    project = make_project()
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    journey = running(project, {"type": "list_joined", "list_id": news.id})
    pause_journey(project, journey.id, actor=TEST_ACTOR)
    scan_triggers(now=later())
    ann = make_contact(project)
    add_contacts(project.id, news.id, [ann.id], actor=TEST_ACTOR)
    scan_triggers(now=later())
    assert enrolled(journey) == []


def test_a_posted_event_wakes_the_enrollments_waiting_for_it(app):
    from mailapp.journeys.engine import wake_due
    from mailapp.journeys.enrollment import enroll

    project = make_project()
    journey = create_journey(
        project,
        "Waits for a purchase",
        actor=TEST_ACTOR,
        trigger={"type": "manual"},
        graph={
            "start": "await",
            "steps": {
                "await": {
                    "type": "wait",
                    "mode": "event",
                    "event": "purchase",
                    "timeout_minutes": 1440,
                    "next": None,
                    "timeout_next": None,
                }
            },
        },
        settings={"reentry": "once"},
    )
    publish_journey(project, journey.id, actor=TEST_ACTOR)
    ann = make_contact(project)
    scan_triggers(now=later())
    enroll(project, journey.id, [ann.id], actor=TEST_ACTOR)
    wake_due(now=utcnow())
    waiting = db.session.scalar(sa.select(Enrollment).where(Enrollment.journey_id == journey.id))
    assert (waiting.status.value, waiting.waiting_for) == ("waiting", "purchase")
    record_event(project, "purchase", contact_id=ann.id, data={"order_id": 9})
    scan_triggers(now=later())
    wake_due(now=later())
    db.session.expire_all()
    done = db.session.get(Enrollment, waiting.id)
    assert done.status.value == "completed"
    assert done.data == {"order_id": 9}


def test_joining_a_list_can_enter_a_segment_made_of_lists(app):
    project = make_project()
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    segment = save_segment(
        project.id, "Readers", {"field": "list", "op": "in", "value": news.id}, actor=TEST_ACTOR
    )
    journey = running(project, {"type": "segment_entered", "segment_id": segment.id})
    ann = make_contact(project)
    scan_triggers(now=later())
    add_contacts(project.id, news.id, [ann.id], actor=TEST_ACTOR)
    scan_triggers(now=later())
    assert enrolled(journey) == [ann.id]
