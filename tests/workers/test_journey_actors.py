"""The journey actor: one tick runs every due batch, and the scheduler asks every 10 s."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.journeys.enrollment import enroll
from mailapp.models import Enrollment, EnrollmentStatus
from tests.factories import make_contact, make_project
from tests.journeys.helpers import published
from tests.support.pipeline import run_queue
from workers.actors import journeys
from workers.scheduler import JOBS


def test_a_tick_runs_every_due_batch(app, monkeypatch):
    monkeypatch.setattr(journeys, "BATCH", 2)  # five contacts: three batches in one tick
    project = make_project()
    contacts = [make_contact(project) for _ in range(5)]
    steps = {"tag": {"type": "update", "action": "add_tag", "tag": "welcomed", "next": None}}
    journey = published(project, steps)
    enroll(project, journey.id, [c.id for c in contacts])
    journeys.wake_journeys.send()
    run_queue("journeys")
    db.session.expire_all()
    statuses = db.session.scalars(
        sa.select(Enrollment.status).where(Enrollment.journey_id == journey.id)
    ).all()
    assert statuses == [EnrollmentStatus.COMPLETED] * 5


def test_the_wake_is_scheduled_every_ten_seconds():
    [job] = [j for j in JOBS if j.actor == "workers.actors.journeys:wake_journeys"]
    assert (job.trigger, job.trigger_args) == ("interval", {"seconds": 10})
