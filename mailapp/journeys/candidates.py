"""What a trigger scan found: candidates for a journey, checked against the enrollments that
already answered them, then enrolled in bulk (one `enroll` per journey and data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.journeys.enrollment import enroll
from mailapp.models import Enrollment, Journey, Project
from mailapp.models.base import UTCDateTime
from mailapp.upserts import in_values

# Rows younger than this may belong to a transaction not yet committed: the next tick reads them.
SETTLE = timedelta(seconds=5)
# The moment before every enrollment: "answered by any enrollment of this journey, ever".
EVER = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK = 5000


@dataclass(frozen=True)
class Armed:
    """A running journey's published trigger."""

    journey_id: int
    project_id: int
    published_at: datetime
    trigger: dict


@dataclass(frozen=True)
class Candidate:
    """A contact a trigger fired for; `since` is the trigger's moment."""

    journey_id: int
    contact_id: int
    since: datetime
    data: dict = field(default_factory=dict)


def enroll_candidates(candidates: Iterable[Candidate], now: datetime) -> int:
    """Enroll each candidate not already answered: one `enroll` per journey, in bulk."""
    groups: dict[int, dict[int, dict]] = defaultdict(dict)
    for candidate in unanswered(list(candidates)):
        # One start per contact and journey in a tick: the first trigger (oldest row) wins.
        groups[candidate.journey_id].setdefault(candidate.contact_id, candidate.data)
    if not groups:
        return 0
    projects = dict(
        db.session.execute(
            sa.select(Journey.id, Journey.project_id).where(Journey.id.in_(list(groups)))
        ).all()
    )
    enrolled = 0
    for journey_id, data in groups.items():
        project = db.session.get(Project, projects[journey_id])
        enrolled += _enroll(project, journey_id, data, now)
    return enrolled


def _enroll(project: Project, journey_id: int, data: dict[int, dict], now: datetime) -> int:
    """`enroll` the contacts at once, then give each new enrollment its own trigger's data
    (an event's) in one executemany, as `enroll` takes one data for all."""
    first = next(iter(data.values()))
    same = all(d == first for d in data.values())
    entered = enroll(
        project, journey_id, list(data), data=first if same else {}, now=now, commit=False
    )
    if entered and not same:
        table = Enrollment.__table__
        rows = db.session.execute(
            sa.select(table.c.id, table.c.contact_id).where(
                table.c.journey_id == journey_id,
                table.c.entered_at == sa.literal(now, UTCDateTime()),
                in_values(table.c.contact_id, list(data), sa.BigInteger),
            )
        ).all()
        db.session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("enrollment_id"))
            .values(data=sa.bindparam("trigger_data")),
            [{"enrollment_id": i, "trigger_data": data[c]} for i, c in rows],
        )
    return entered


def unanswered(candidates: list[Candidate]) -> list[Candidate]:
    """Leave out candidates whose journey enrolled the contact at or after the trigger's moment.

    This is what makes a repeated window (a crash before the cursor was saved, or the same
    row read twice) enroll nobody twice, whatever the journey's re-entry policy.
    """
    latest: dict[tuple[int, int], datetime] = {}
    by_journey: dict[int, set[int]] = defaultdict(set)
    for candidate in candidates:
        by_journey[candidate.journey_id].add(candidate.contact_id)
    for journey_id, contact_ids in by_journey.items():
        ids = sorted(contact_ids)
        for start in range(0, len(ids), CHUNK):
            rows = db.session.execute(
                sa.select(Enrollment.contact_id, sa.func.max(Enrollment.entered_at))
                .where(
                    Enrollment.journey_id == journey_id,
                    in_values(Enrollment.contact_id, ids[start : start + CHUNK], sa.BigInteger),
                )
                .group_by(Enrollment.contact_id)
            )
            for contact_id, entered_at in rows:
                latest[(journey_id, contact_id)] = _aware(entered_at)
    return [
        c
        for c in candidates
        if (entered := latest.get((c.journey_id, c.contact_id))) is None or entered < c.since
    ]


def _aware(when: datetime) -> datetime:
    # max() over a UTCDateTime column comes back raw on SQLite: naive, in UTC.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def literal_rows(rows: list[tuple], columns: list[tuple[str, sa.types.TypeEngine]]) -> sa.Subquery:
    """A small derived table of literal rows (UNION ALL of SELECTs: both databases read it)."""
    selects = [
        sa.select(
            *[
                sa.literal(value, kind).label(name)
                for value, (name, kind) in zip(row, columns, strict=False)
            ]
        )
        for row in rows
    ]
    query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return query.subquery("armed")
