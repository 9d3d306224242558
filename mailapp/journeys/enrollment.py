"""Putting contacts into a journey (set-based, by the re-entry policy) and taking one out.

Only active, unsuppressed contacts enter. Re-entry: "once" (never again), "one_at_a_time"
(again once the previous pass ended), "after_days" (again once it ended and N days passed
since it began). Each pass is a new round; the unique (journey, contact, round) key makes
two enrollers racing for one contact enter it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.segments.store import get_segment, segment_query
from mailapp.delivery.backing import drop_queued
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.journeys.journeys import get_journey
from mailapp.models import (
    OPEN_ENROLLMENTS,
    Contact,
    ContactStatus,
    Enrollment,
    EnrollmentStatus,
    JourneyStatus,
    JourneyVersion,
    Project,
    Suppression,
)
from mailapp.models.base import UTCDateTime, utcnow
from mailapp.upserts import dialect, insert_for, unnest_rows

ENGINE = Actor.system("journeys")


def _candidates(project: Project, targets: Iterable[int] | int) -> sa.Select:
    """SELECT contacts.id of the targets who may receive mail now."""
    if isinstance(targets, int):
        segment = get_segment(project.id, targets)
        return segment_query(project.id, segment.rule)
    ids = list(targets)
    if dialect() == "postgresql":
        # A join on the ids' array: `id = ANY(array)` would search the array for every row.
        given = unnest_rows({"cid": (sa.BigInteger(), ids)})
        query = sa.select(Contact.id).select_from(given).join(Contact, Contact.id == given.c.cid)
    else:
        query = sa.select(Contact.id).where(Contact.id.in_(ids))
    return query.where(
        Contact.project_id == project.id,
        Contact.status == ContactStatus.ACTIVE,
        ~sa.exists().where(
            Suppression.project_id == project.id, Suppression.email_hash == Contact.email_hash
        ),
    )


def enroll(
    project: Project,
    journey_id: int,
    targets: Iterable[int] | int,
    *,
    data: dict | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
    commit: bool = True,
) -> int:
    """Enroll contact ids (or a segment id's contacts) in the published version; returns
    how many entered. commit=False leaves the transaction to the caller (a trigger scan
    commits its cursor with the enrollments)."""
    now = now or utcnow()
    journey = get_journey(project, journey_id)
    if journey.status != JourneyStatus.ACTIVE or journey.published_version_id is None:
        raise ServiceError("only a published, running journey takes contacts in")
    version = db.session.get(JourneyVersion, journey.published_version_id)
    settings = version.settings or {}
    candidates = _candidates(project, targets).subquery("candidate")
    past = (
        sa.select(
            Enrollment.contact_id.label("contact_id"),
            sa.func.max(Enrollment.round).label("last_round"),
            sa.func.max(Enrollment.entered_at).label("last_entered"),
        )
        .where(
            Enrollment.journey_id == journey.id,
            Enrollment.contact_id.in_(sa.select(candidates.c.id)),
        )
        .group_by(Enrollment.contact_id)
        .subquery("past")
    )
    inside = sa.exists().where(
        Enrollment.journey_id == journey.id,
        Enrollment.contact_id == candidates.c.id,
        Enrollment.status.in_(OPEN_ENROLLMENTS),
    )
    policy = settings.get("reentry") or "once"
    if policy == "once":
        allowed = past.c.contact_id.is_(None)
    elif policy == "one_at_a_time":
        allowed = ~inside
    else:
        since = now - timedelta(days=int(settings.get("reentry_days") or 0))
        allowed = sa.and_(
            ~inside,
            sa.or_(
                past.c.contact_id.is_(None),
                past.c.last_entered <= sa.literal(since, UTCDateTime()),
            ),
        )
    rows = (
        sa.select(
            sa.literal(project.id),
            sa.literal(journey.id),
            sa.literal(version.id),
            candidates.c.id,
            sa.func.coalesce(past.c.last_round, 0) + 1,
            sa.literal(EnrollmentStatus.ACTIVE.value),
            sa.literal(version.graph["start"]),
            sa.literal(now, UTCDateTime()),
            sa.literal(0),
            sa.literal(data or {}, Enrollment.__table__.c.data.type),
            sa.literal(now, UTCDateTime()),
        )
        .select_from(candidates)
        .outerjoin(past, past.c.contact_id == candidates.c.id)
        .where(allowed)
    )
    columns = ["project_id", "journey_id", "version_id", "contact_id", "round", "status"]
    columns += ["step", "wake_at", "seq", "data", "entered_at"]
    table = Enrollment.__table__
    entered = db.session.execute(
        insert_for(Enrollment)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["journey_id", "contact_id", "round"])
        .returning(table.c.id)
    ).all()
    if actor is not None:
        record_audit(
            actor,
            "journey.enroll",
            project_id=project.id,
            obj=journey,
            context={"entered": len(entered)}
            | ({"segment_id": targets} if isinstance(targets, int) else {}),
        )
    if commit:
        db.session.commit()
    return len(entered)


def unenroll(
    project: Project, journey_id: int, contact_id: int, *, actor: Actor, now: datetime | None = None
) -> Enrollment:
    """Take a contact out now ("manual"); its queued journey mail is not sent."""
    now = now or utcnow()
    journey = get_journey(project, journey_id)
    enrollment = db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.project_id == project.id,
            Enrollment.journey_id == journey.id,
            Enrollment.contact_id == contact_id,
            Enrollment.status.in_(OPEN_ENROLLMENTS),
        )
    )
    if enrollment is None:
        raise NotFound("this contact is not in the journey")
    # seq moves on: a wake holding the old seq writes nothing for this enrollment.
    db.session.execute(
        sa.update(Enrollment)
        .where(Enrollment.id == enrollment.id)
        .values(
            status=EnrollmentStatus.EXITED,
            exit_reason="manual",
            left_at=now,
            wake_at=None,
            seq=Enrollment.seq + 1,
        )
    )
    drop_queued(journey.id, contact_id, enrollment.round, "left the journey")
    record_audit(
        actor,
        "journey.unenroll",
        project_id=project.id,
        obj=journey,
        context={"contact": contact_id},
    )
    db.session.commit()
    db.session.refresh(enrollment)
    return enrollment
