"""Journeys for tests: published through the service, with a template that shows the
event's data."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.journeys.journeys import create_journey, publish_journey
from mailapp.models import Delivery, Enrollment, EnrollmentStep, Journey, Project
from tests.factories import HTML, TEST_ACTOR, make_sender, make_template

EVENT_HTML = HTML + "<p>Your order {{ event.order_id }} is on its way.</p>"


def email_steps(project: Project) -> tuple[int, int]:
    """(template id, sender id) for email steps."""
    template = make_template(project, html=EVENT_HTML, subject="Order {{ event.order_id }}")
    return template.id, make_sender(project).id


def published(
    project: Project, steps: dict, *, start: str | None = None, settings: dict | None = None
) -> Journey:
    journey = create_journey(
        project,
        "Welcome",
        actor=TEST_ACTOR,
        graph={"start": start or next(iter(steps)), "steps": steps},
        settings=settings,
    )
    publish_journey(project, journey.id, actor=TEST_ACTOR)
    return db.session.get(Journey, journey.id)


def enrollment(journey_id: int, contact_id: int) -> Enrollment:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Enrollment)
        .where(Enrollment.journey_id == journey_id, Enrollment.contact_id == contact_id)
        .order_by(Enrollment.round.desc())
    ).first()


def ledger(enrollment_id: int) -> list[tuple[int, str, str]]:
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(EnrollmentStep.seq, EnrollmentStep.step, EnrollmentStep.outcome)
            .where(EnrollmentStep.enrollment_id == enrollment_id)
            .order_by(EnrollmentStep.seq)
        )
    ]


def deliveries(contact_id: int) -> list[Delivery]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Delivery).where(Delivery.contact_id == contact_id).order_by(Delivery.id)
        )
    )
