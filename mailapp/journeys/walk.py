"""A contact's walk through a journey: the steps it took (from the ledger) and those it
would take from here, with when, judging conditions on the contact as it is now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from mailapp.delivery.backing import backing_campaigns
from mailapp.extensions import db
from mailapp.journeys.conditions import Judge, wait_until
from mailapp.journeys.runs import Run
from mailapp.journeys.steps import arm, bucket_of
from mailapp.models import (
    OPEN_ENROLLMENTS,
    Contact,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStep,
    JourneyVersion,
    Project,
)

MAX_WALK = 100


@dataclass(frozen=True)
class WalkStep:
    step: str
    type: str
    at: datetime | None  # when it ran, or when it would
    outcome: str | None  # what happened, or what would ("would send", "yes", "branch:b" ...)
    done: bool  # taken already (from the ledger) or still ahead


def trace(
    project: Project,
    version: JourneyVersion,
    contact: Contact,
    enrollment: Enrollment | None,
    now: datetime,
) -> list[WalkStep]:
    """The walk of `contact` through `version` (its enrollment's history first, if any)."""
    steps = version.graph["steps"]
    walked: list[WalkStep] = []
    start, at = version.graph["start"], now
    if enrollment is not None:
        history = db.session.execute(
            sa.select(EnrollmentStep.step, EnrollmentStep.outcome, EnrollmentStep.at)
            .where(EnrollmentStep.enrollment_id == enrollment.id)
            .order_by(EnrollmentStep.seq)
        ).all()
        walked += [
            WalkStep(key, steps.get(key, {}).get("type", "?"), when, outcome, True)
            for key, outcome, when in history
        ]
        if enrollment.status not in OPEN_ENROLLMENTS:
            return walked
        start = enrollment.step
        if enrollment.status == EnrollmentStatus.WAITING and enrollment.wake_at:
            at = max(enrollment.wake_at, now)
    run = Run(
        id=enrollment.id if enrollment else contact.id,
        project_id=project.id,
        journey_id=version.journey_id,
        version_id=version.id,
        contact_id=contact.id,
        round=enrollment.round if enrollment else 0,
        status=EnrollmentStatus.ACTIVE.value,
        step=start,
        seq=0,
        data=(enrollment.data if enrollment else None) or {},
        waiting_for=None,
    )
    judge = Judge(lambda version_id: backing_campaigns(version_id))
    waiting = enrollment is not None and enrollment.status == EnrollmentStatus.WAITING
    key: str | None = start
    for _ in range(MAX_WALK):
        if key is None:
            break
        step = steps[key]
        kind = step["type"]
        outcome, target = _ahead(step, key, run, judge, contact, project, at, waiting)
        if kind == "wait":
            at = outcome  # the walk goes on from when the wait ends
            walked.append(WalkStep(key, kind, at, "waits", False))
        else:
            walked.append(WalkStep(key, kind, at, outcome, False))
        waiting = False
        key = target
    return walked


def _ahead(
    step: dict,
    key: str,
    run: Run,
    judge: Judge,
    contact: Contact,
    project: Project,
    at: datetime,
    waiting: bool,
) -> tuple:
    """(outcome, next step) of one step ahead; for a wait, (when it ends, next step)."""
    kind = step["type"]
    if kind == "email":
        return "would send", step.get("next")
    if kind == "wait":
        mode = step["mode"]
        if waiting:
            ends = at
        elif mode == "duration":
            ends = at + timedelta(minutes=float(step["minutes"]))
        elif mode == "until":
            ends = wait_until(
                step.get("weekdays"), step["time"], contact.timezone or project.timezone, at
            )
        else:
            ends = at + timedelta(minutes=float(step["timeout_minutes"]))
        # An event not yet arrived: the walk follows the timeout path.
        target = step.get("timeout_next") if mode == "event" else step.get("next")
        return ends, target
    if kind == "condition":
        answer = "yes" if run.id in judge.matching(step["rule"], [run]) else "no"
        return answer, step.get(answer)
    if kind == "split":
        index = arm(step["branches"], bucket_of(run.id, key))
        return f"branch:{chr(ord('a') + index)}", step["branches"][index].get("next")
    if kind == "update":
        return "would update", step.get("next")
    if kind == "webhook":
        return "would call", step.get("next")
    return kind, None
