"""The journey engine: due enrollments claimed in set-based batches and run to their next
wait or end; events delivered to the enrollments waiting for them.

At most once per step: one transaction per batch claims its rows (FOR UPDATE SKIP LOCKED on
PostgreSQL; on SQLite the claim is the batch's first write, which holds the database's write
lock), writes the ledger rows (unique per enrollment and seq), the steps' effects (Delivery
rows ON CONFLICT DO NOTHING, contact updates, queued webhooks) and the enrollments (a
compare-and-set on seq). A worker killed mid-batch leaves nothing behind: the batch rolls
back and the rows are due again. Waits are rows with a wake time, never delayed messages.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa

from mailapp.delivery.backing import backing_campaigns, drop_queued
from mailapp.delivery.campaigns import request_dispatch
from mailapp.extensions import db
from mailapp.journeys.conditions import Judge
from mailapp.journeys.runs import Run
from mailapp.journeys.steps import HANDLERS, Wake
from mailapp.journeys.writes import write_wake
from mailapp.models import (
    OPEN_ENROLLMENTS,
    Contact,
    ContactStatus,
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyStatus,
    JourneyVersion,
    Project,
    Suppression,
)
from mailapp.models.base import UTCDateTime, utcnow
from mailapp.upserts import dialect, in_values, json_merge

log = logging.getLogger(__name__)
E = Enrollment.__table__
# A chain of instant steps longer than this is cut: the rest runs at the next wake.
MAX_CHAIN = 50
RETRY_MINUTES = 15
_CLAIMED = (E.c.id, E.c.project_id, E.c.journey_id, E.c.version_id, E.c.contact_id, E.c.round)
_CLAIMED += (E.c.status, E.c.step, E.c.seq, E.c.data, E.c.waiting_for)


def _claim(now: datetime, limit: int) -> list[Run]:
    """Lock up to `limit` due enrollments of running journeys for this transaction."""
    due = sa.and_(
        E.c.status.in_([s.value for s in OPEN_ENROLLMENTS]),
        E.c.wake_at <= sa.literal(now, UTCDateTime()),
        E.c.journey_id.in_(sa.select(Journey.id).where(Journey.status == JourneyStatus.ACTIVE)),
    )
    pick = sa.select(*_CLAIMED).where(due).order_by(E.c.wake_at).limit(limit)
    if dialect() == "postgresql":
        rows = db.session.execute(pick.with_for_update(skip_locked=True, of=E)).all()
    else:
        # A write first: SQLite gives this transaction the write lock before it reads.
        inner = sa.select(E.c.id).where(due).order_by(E.c.wake_at).limit(limit)
        rows = db.session.execute(
            sa.update(E).where(E.c.id.in_(inner), due).values(seq=E.c.seq).returning(*_CLAIMED)
        ).all()
    return [Run(*row, claimed_seq=row.seq) for row in rows]


def _contacts(runs: list[Run]) -> dict[int, sa.Row]:
    suppressed = sa.exists().where(
        Suppression.project_id == Contact.project_id, Suppression.email_hash == Contact.email_hash
    )
    rows = db.session.execute(
        sa.select(
            Contact.id,
            Contact.status,
            Contact.email,
            Contact.timezone,
            suppressed.label("suppressed"),
        ).where(in_values(Contact.id, {run.contact_id for run in runs}, sa.BigInteger))
    )
    return {row.id: row for row in rows}


def _leave_unsendable(wake: Wake, runs: list[Run]) -> None:
    """An unsubscribed, bounced or suppressed contact leaves before its next step runs."""
    for run in runs:
        contact = wake.contacts.get(run.contact_id)
        if contact is None or contact.status != ContactStatus.ACTIVE:
            status = contact.status if contact is not None else "deleted"
            reason = "unsubscribed" if status == ContactStatus.UNSUBSCRIBED else f"contact {status}"
        elif contact.suppressed:
            reason = "suppressed"
        else:
            continue
        run.record(run.step or "", f"skipped: {reason}", wake.now)
        run.end(EnrollmentStatus.EXITED, reason, wake.now)
        wake.count("left")


def _reach_goals(wake: Wake, runs: list[Run], versions: dict[int, JourneyVersion]) -> None:
    """A goal given as a segment rule ends the enrollments whose contact now matches it."""
    by_version: dict[int, list[Run]] = defaultdict(list)
    for run in runs:
        goal = (versions[run.version_id].settings or {}).get("goal") or {}
        if run.moving and "rule" in goal:
            by_version[run.version_id].append(run)
    for version_id, group in by_version.items():
        goal = versions[version_id].settings["goal"]
        reached = wake.judge.matching(goal["rule"], group)
        for run in group:
            if run.id in reached:
                run.end(EnrollmentStatus.GOAL, "goal: segment", wake.now)
                wake.count("goal")


def _run_group(wake: Wake, key: str, step: dict, group: list[Run]) -> None:
    """One step for a group; a step that fails (a list gone, a database refusal) sets its
    group aside for RETRY_MINUTES, undone, instead of failing the whole batch again and
    again at the head of the queue."""
    saved = [(r.seq, r.step, r.status, r.waiting_for, len(r.ledger)) for r in group]
    queued = len(wake.deliveries)
    savepoint = db.session.begin_nested() if dialect() == "postgresql" else None
    try:
        HANDLERS[step["type"]](wake, key, step, group)
    except Exception:
        if savepoint is not None:
            savepoint.rollback()
        log.exception("journey step %r failed for %d enrollments; retried later", key, len(group))
        del wake.deliveries[queued:]
        for run, (seq, at_step, status, waiting_for, written) in zip(group, saved, strict=True):
            run.seq, run.step, run.status, run.waiting_for = seq, at_step, status, waiting_for
            del run.ledger[written:]
            run.left_at = run.exit_reason = None
            run.wake_at, run.moving = wake.now + timedelta(minutes=RETRY_MINUTES), False
        wake.count("failed", len(group))
        return
    if savepoint is not None:
        savepoint.commit()


def _run_chains(wake: Wake, runs: list[Run], versions: dict[int, JourneyVersion]) -> None:
    moving = [run for run in runs if run.moving]
    for _ in range(MAX_CHAIN):
        if not moving:
            return
        groups: dict[tuple[int, str], list[Run]] = defaultdict(list)
        for run in moving:
            groups[(run.version_id, run.step)].append(run)
        for (version_id, key), group in groups.items():
            _run_group(wake, key, versions[version_id].graph["steps"][key], group)
        moving = [run for run in moving if run.moving]
    for run in moving:  # a chain this long runs on at the next wake
        run.wake_at = wake.now


def wake_due(*, now: datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Run one batch of due enrollments up to their next wait or end (one transaction)."""
    now = now or utcnow()
    runs = _claim(now, limit)
    if not runs:
        db.session.commit()
        return {"claimed": 0}
    versions = {
        v.id: v
        for v in db.session.scalars(
            sa.select(JourneyVersion).where(JourneyVersion.id.in_({r.version_id for r in runs}))
        )
    }
    zones = dict(
        db.session.execute(
            sa.select(Project.id, Project.timezone).where(
                Project.id.in_({r.project_id for r in runs})
            )
        ).all()
    )
    cache: dict[int, dict[str, int]] = {}

    def campaigns(version_id: int) -> dict[str, int]:
        if version_id not in cache:
            cache[version_id] = backing_campaigns(version_id)
        return cache[version_id]

    wake = Wake(now, _contacts(runs), zones, campaigns, Judge(campaigns))
    _leave_unsendable(wake, runs)
    _reach_goals(wake, runs, versions)
    _run_chains(wake, runs, versions)
    written = write_wake(runs, wake)
    if written != len(runs):
        # Somebody else moved one of these (cannot happen under the claim's lock): undo all.
        db.session.rollback()
        log.error("journey wake: %d of %d enrollments changed under the claim", written, len(runs))
        return {"claimed": len(runs), "conflicts": len(runs) - written}
    db.session.commit()
    if wake.deliveries:
        request_dispatch()
    return {"claimed": len(runs), "steps": sum(len(r.ledger) for r in runs), **wake.counts}


def deliver_event(
    project: Project,
    contact_id: int,
    name: str,
    data: dict | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """An event of a contact: reaches goals, exits where it is an exit event, and wakes the
    enrollments waiting for it (their data gains the event's). In the caller's transaction
    (the events scan commits it with its cursor)."""
    now = now or utcnow()
    counts = {"woken": 0, "goal": 0, "exited": 0}
    rows = db.session.execute(
        sa.select(Enrollment, JourneyVersion.settings)
        .join(JourneyVersion, JourneyVersion.id == Enrollment.version_id)
        .where(
            Enrollment.project_id == project.id,
            Enrollment.contact_id == contact_id,
            Enrollment.status.in_(OPEN_ENROLLMENTS),
        )
    ).all()
    for enrollment, settings in rows:
        settings = settings or {}
        goal = (settings.get("goal") or {}).get("event")
        if name in (goal, settings.get("exit_on_event")):
            status, reason = (
                (EnrollmentStatus.GOAL, f"goal: {name}")
                if name == goal
                else (EnrollmentStatus.EXITED, f"event: {name}")
            )
            moved = db.session.execute(
                sa.update(E)
                # Still inside (a wake holding the row moves it on first; seq then moves
                # again, so a wake that read it before writes nothing over this).
                .where(E.c.id == enrollment.id, E.c.status.in_([s.value for s in OPEN_ENROLLMENTS]))
                .values(
                    status=status.value,
                    exit_reason=reason,
                    left_at=now,
                    wake_at=None,
                    waiting_for=None,
                    seq=E.c.seq + 1,
                )
            ).rowcount
            if moved:
                drop_queued(enrollment.journey_id, contact_id, enrollment.round, reason)
                counts["goal" if status == EnrollmentStatus.GOAL else "exited"] += 1
        elif enrollment.waiting_for == name and enrollment.status == EnrollmentStatus.WAITING:
            overlay = sa.literal(dict(data or {}), E.c.data.type)
            counts["woken"] += db.session.execute(
                sa.update(E)
                .where(E.c.id == enrollment.id, E.c.waiting_for == name)
                .values(waiting_for=None, wake_at=now, data=json_merge(E.c.data, overlay))
            ).rowcount
    return counts
