"""The trigger scan actor: runs the scan, and stands aside while another scan holds the lock."""

from __future__ import annotations

import time

import sqlalchemy as sa

from mailapp.audience.lists import add_contacts, create_list
from mailapp.extensions import db, get_redis
from mailapp.journeys.candidates import SETTLE
from mailapp.journeys.journeys import create_journey, publish_journey
from mailapp.models import Enrollment
from tests.factories import TEST_ACTOR, make_contact, make_project
from workers.actors.journeys import SCAN_LOCK_KEY, scan_journey_triggers
from workers.scheduler import JOBS

HOLD = {
    "start": "hold",
    "steps": {"hold": {"type": "wait", "mode": "duration", "minutes": 60, "next": None}},
}


def test_the_scan_enrolls_and_two_scans_never_run_at_once(app):
    project = make_project()
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    journey = create_journey(
        project,
        "Welcome",
        actor=TEST_ACTOR,
        trigger={"type": "list_joined", "list_id": news.id},
        graph=HOLD,
    )
    publish_journey(project, journey.id, actor=TEST_ACTOR)
    scan_journey_triggers.fn()  # the first scan starts the cursors
    ann = make_contact(project)
    add_contacts(project.id, news.id, [ann.id], actor=TEST_ACTOR)
    time.sleep(SETTLE.total_seconds() + 0.5)
    get_redis().set(SCAN_LOCK_KEY, "someone else")
    scan_journey_triggers.fn()
    count = sa.select(sa.func.count()).select_from(Enrollment)
    assert db.session.scalar(count) == 0
    get_redis().delete(SCAN_LOCK_KEY)
    scan_journey_triggers.fn()
    assert db.session.scalar(count) == 1
    assert get_redis().get(SCAN_LOCK_KEY) is None
    [job] = [j for j in JOBS if j.actor == "workers.actors.journeys:scan_journey_triggers"]
    assert job.trigger_args == {"seconds": 30}
