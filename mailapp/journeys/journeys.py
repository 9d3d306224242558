"""Journeys as a marketer handles them: create, edit the draft, publish (freeze a version),
pause, resume, stop; per-step counts.

Publishing freezes the draft's trigger, graph and settings as a new `JourneyVersion` and
opens a backing campaign for each of its email steps (`delivery.backing`); contacts already
inside keep the version they entered with.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.content.rendering import RenderError
from mailapp.delivery.backing import cancel_backing, hold_backing, open_backing_campaign
from mailapp.delivery.backing import resume_backing as resume_backing_campaigns
from mailapp.delivery.launch import blocking_failures
from mailapp.delivery.preflight import content_checks
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.journeys.graph import Problem, check_graph, check_settings, check_trigger
from mailapp.journeys.walk import WalkStep, trace
from mailapp.models import (
    OPEN_ENROLLMENTS,
    Contact,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStep,
    Journey,
    JourneyStatus,
    JourneyVersion,
    Project,
    Sender,
    Template,
)
from mailapp.models.base import utcnow

DEFAULT_SETTINGS = {"reentry": "once", "reentry_days": None, "goal": None, "exit_on_event": None}
EDITABLE = ("name", "description", "trigger", "graph", "settings")


class PublishRefused(ServiceError):
    """The draft cannot be published; `problems` says what to fix, step by step."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def get_journey(project: Project, journey_id: int, *, lock: bool = False) -> Journey:
    """The project's journey (NotFound for another project's)."""
    query = sa.select(Journey).where(Journey.project_id == project.id, Journey.id == journey_id)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    journey = db.session.scalar(query)
    if journey is None:
        raise NotFound("no such journey")
    return journey


def project_journeys(project: Project) -> list[Journey]:
    """The project's journeys, newest first."""
    return list(
        db.session.scalars(
            sa.select(Journey).where(Journey.project_id == project.id).order_by(Journey.id.desc())
        )
    )


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise ServiceError("a journey needs a name of at most 200 characters")
    return name.strip()


def create_journey(
    project: Project,
    name: str,
    *,
    actor: Actor,
    trigger: dict | None = None,
    graph: dict | None = None,
    settings: dict | None = None,
) -> Journey:
    """A new draft journey (checked only when published)."""
    journey = Journey(
        project_id=project.id,
        name=_name(name),
        status=JourneyStatus.DRAFT,
        trigger=trigger or {"type": "manual"},
        graph=graph or {"start": None, "steps": {}},
        settings=DEFAULT_SETTINGS | (settings or {}),
        created_by_id=actor.user_id,
    )
    db.session.add(journey)
    db.session.flush()
    record_audit(actor, "journey.create", project_id=project.id, obj=journey)
    db.session.commit()
    return journey


def update_draft(project: Project, journey_id: int, *, actor: Actor, **fields: object) -> Journey:
    """Change the draft; what is published runs on until the next publish."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ServiceError(f"unknown journey fields: {', '.join(sorted(unknown))}")
    journey = get_journey(project, journey_id, lock=True)
    if journey.status == JourneyStatus.STOPPED:
        raise ServiceError("a stopped journey can no longer be changed")
    if "name" in fields:
        fields["name"] = _name(fields["name"])
    if "settings" in fields:
        fields["settings"] = DEFAULT_SETTINGS | dict(fields["settings"] or {})
    for name, value in fields.items():
        setattr(journey, name, value)
    record_audit(
        actor,
        "journey.edit",
        project_id=project.id,
        obj=journey,
        context={"fields": sorted(fields)},
    )
    db.session.commit()
    return journey


def draft_problems(project: Project, journey: Journey) -> list[Problem]:
    """Everything that stops the draft from being published."""
    problems = check_trigger(journey.trigger, project) + check_settings(journey.settings)
    problems += check_graph(journey.graph, project)
    if not problems:
        problems += _content_problems(project, journey.graph)
    return problems


def _content_problems(project: Project, graph: dict) -> list[Problem]:
    """The campaign launch's content checks for each email step."""
    problems = []
    for key, step in graph["steps"].items():
        if step["type"] != "email":
            continue
        template = db.session.get(Template, step["template_id"])
        sender = db.session.get(Sender, step["sender_id"])
        try:
            checks = content_checks(
                template.published_version, sender, project, step.get("subject")
            )
        except RenderError as exc:
            problems.append(Problem(key, str(exc)))
            continue
        problems += [Problem(key, c.message) for c in blocking_failures(checks)]
    return problems


def publish_journey(
    project: Project, journey_id: int, *, actor: Actor, now: datetime | None = None
) -> JourneyVersion:
    """Freeze the draft as the next version; new contacts enter it, those inside stay."""
    now = now or utcnow()
    journey = get_journey(project, journey_id, lock=True)
    if journey.status == JourneyStatus.STOPPED:
        raise ServiceError("a stopped journey cannot be published again")
    problems = draft_problems(project, journey)
    if problems:
        raise PublishRefused(problems)
    number = (
        db.session.scalar(
            sa.select(sa.func.max(JourneyVersion.number)).where(
                JourneyVersion.journey_id == journey.id
            )
        )
        or 0
    ) + 1
    version = JourneyVersion(
        project_id=project.id,
        journey_id=journey.id,
        number=number,
        trigger=dict(journey.trigger),
        graph=dict(journey.graph),
        settings=dict(journey.settings),
        published_at=now,
        published_by_id=actor.user_id,
    )
    db.session.add(version)
    db.session.flush()
    running = journey.status != JourneyStatus.PAUSED
    for key, step in journey.graph["steps"].items():
        if step["type"] == "email":
            open_backing_campaign(
                project,
                name=f"{journey.name} v{number}: {key}",
                sender_id=step["sender_id"],
                template_id=step["template_id"],
                subject=step.get("subject"),
                journey_version_id=version.id,
                journey_step=key,
                now=now,
                running=running,
            )
    journey.published_version_id = version.id
    if journey.status == JourneyStatus.DRAFT:
        journey.status = JourneyStatus.ACTIVE
    record_audit(
        actor, "journey.publish", project_id=project.id, obj=journey, context={"version": number}
    )
    db.session.commit()
    return version


def pause_journey(project: Project, journey_id: int, *, actor: Actor) -> Journey:
    """Nobody moves on and no journey mail goes out until resumed; waits keep their time."""
    journey = get_journey(project, journey_id, lock=True)
    if journey.status != JourneyStatus.ACTIVE:
        raise ServiceError(f"only an active journey can be paused; this one is {journey.status}")
    journey.status = JourneyStatus.PAUSED
    hold_backing(journey.id, "the journey is paused")
    record_audit(actor, "journey.pause", project_id=project.id, obj=journey)
    db.session.commit()
    return journey


def resume_journey(project: Project, journey_id: int, *, actor: Actor) -> Journey:
    """Carry on: steps that fell due while paused run at the next wake."""
    journey = get_journey(project, journey_id, lock=True)
    if journey.status != JourneyStatus.PAUSED:
        raise ServiceError(f"only a paused journey can resume; this one is {journey.status}")
    journey.status = JourneyStatus.ACTIVE
    resume_backing_campaigns(journey.id)
    record_audit(actor, "journey.resume", project_id=project.id, obj=journey)
    db.session.commit()
    return journey


def stop_journey(
    project: Project, journey_id: int, *, actor: Actor, now: datetime | None = None
) -> Journey:
    """Stop for good: everyone inside leaves ("stopped"), queued journey mail is not sent."""
    now = now or utcnow()
    journey = get_journey(project, journey_id, lock=True)
    if journey.status == JourneyStatus.STOPPED:
        raise ServiceError("the journey is stopped already")
    journey.status = JourneyStatus.STOPPED
    left = db.session.execute(
        sa.update(Enrollment)
        .where(Enrollment.journey_id == journey.id, Enrollment.status.in_(OPEN_ENROLLMENTS))
        .values(
            status=EnrollmentStatus.EXITED,
            exit_reason="stopped",
            left_at=now,
            wake_at=None,
            seq=Enrollment.seq + 1,
        )
    ).rowcount
    unsent = cancel_backing(journey.id, now)
    record_audit(
        actor,
        "journey.stop",
        project_id=project.id,
        obj=journey,
        context={"left": left, "unsent": unsent},
    )
    db.session.commit()
    return journey


def step_counts(project: Project, journey_id: int) -> dict[str, dict[str, int]]:
    """Per step: contacts waiting there, contacts who passed it, contacts who left there."""
    journey = get_journey(project, journey_id)
    counts: dict[str, dict[str, int]] = {}

    def bump(step: str | None, kind: str, n: int) -> None:
        if step is not None:
            counts.setdefault(step, {"waiting": 0, "passed": 0, "left": 0})[kind] += n

    rows = db.session.execute(
        sa.select(Enrollment.step, Enrollment.status, sa.func.count())
        .where(Enrollment.project_id == project.id, Enrollment.journey_id == journey.id)
        .group_by(Enrollment.step, Enrollment.status)
    )
    for step, status, n in rows:
        bump(step, "waiting" if status in OPEN_ENROLLMENTS else "left", n)
    passed = db.session.execute(
        sa.select(EnrollmentStep.step, sa.func.count())
        .join(Enrollment, Enrollment.id == EnrollmentStep.enrollment_id)
        .where(Enrollment.project_id == project.id, Enrollment.journey_id == journey.id)
        .group_by(EnrollmentStep.step)
    )
    for step, n in passed:
        bump(step, "passed", n)
    return counts


def walk(
    project: Project, journey_id: int, contact_id: int, *, now: datetime | None = None
) -> list[WalkStep]:
    """The path this contact took and would take from here (conditions judged as of now);
    for a contact never enrolled, the whole path of the published version from the start."""
    journey = get_journey(project, journey_id)
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.project_id == project.id, Contact.id == contact_id)
    )
    if contact is None:
        raise NotFound("no such contact")
    enrollment = db.session.scalars(
        sa.select(Enrollment)
        .where(Enrollment.journey_id == journey.id, Enrollment.contact_id == contact_id)
        .order_by(Enrollment.round.desc())
    ).first()
    version_id = enrollment.version_id if enrollment else journey.published_version_id
    if version_id is None:
        raise ServiceError("the journey has no published version yet")
    version = db.session.get(JourneyVersion, version_id)
    return trace(project, version, contact, enrollment, now or utcnow())
