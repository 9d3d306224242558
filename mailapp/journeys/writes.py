"""A wake's writes, one statement each: the ledger, the deliveries, the enrollments.

On PostgreSQL the rows go as one array per column, unnested into an INSERT ... SELECT or an
UPDATE ... FROM (an executemany would be a round trip a row); columns whose value is the
same in every row are bound once. The enrollments' UPDATE is a compare-and-set on `seq`.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mailapp.extensions import db
from mailapp.journeys.runs import Run
from mailapp.journeys.steps import Wake
from mailapp.models import Delivery, Enrollment, EnrollmentStatus, EnrollmentStep
from mailapp.models.base import UTCDateTime
from mailapp.upserts import dialect, insert_for, unnest_rows

E = Enrollment.__table__


_TS = postgresql.TIMESTAMP(timezone=True)
_LEDGER_TYPES = {"project_id": sa.Integer(), "enrollment_id": sa.BigInteger(), "seq": sa.Integer()}
_LEDGER_TYPES |= {"step": sa.Text(), "outcome": sa.Text(), "detail": postgresql.JSONB(), "at": _TS}
_DELIVERY_TYPES = {"project_id": sa.Integer(), "campaign_id": sa.Integer()}
_DELIVERY_TYPES |= {"contact_id": sa.BigInteger(), "round": sa.Integer(), "variant": sa.Text()}
_DELIVERY_TYPES |= {"scheduled_at": _TS, "status": sa.Text(), "attempts": sa.Integer()}
_DELIVERY_TYPES |= {"updated_at": _TS}


def _insert_all(
    model: type, rows: list[dict], types: dict, conflict: list[str] | None = None
) -> None:
    """Insert many rows in one statement: on PostgreSQL one array per column, unnested (an
    executemany would be one round trip a row)."""
    statement = insert_for(model)
    if dialect() != "postgresql":
        if conflict:
            statement = statement.on_conflict_do_nothing(index_elements=conflict)
        db.session.execute(statement, rows)
        return
    arrays, constants = {}, {}
    for name, kind in types.items():
        column = [row[name] for row in rows]
        if isinstance(kind, postgresql.JSONB):
            column = [json.dumps(value, sort_keys=True) for value in column]
        if all(value == column[0] for value in column):
            constants[name] = column[0]  # bound once, not an array of the same value
        else:
            arrays[name] = (sa.Text() if isinstance(kind, postgresql.JSONB) else kind, column)
    given = unnest_rows(arrays) if arrays else None
    values = []
    for name, kind in types.items():
        value = (
            sa.literal(constants[name], sa.Text() if isinstance(kind, postgresql.JSONB) else kind)
            if name in constants
            else given.c[name]
        )
        values.append(sa.cast(value, kind) if isinstance(kind, postgresql.JSONB) else value)
    select = sa.select(*values)
    if given is None:
        select = select.select_from(sa.func.generate_series(1, len(rows)).alias("n"))
    statement = statement.from_select(list(types), select)
    if conflict:
        statement = statement.on_conflict_do_nothing(index_elements=conflict)
    db.session.execute(statement)


def write_wake(runs: list[Run], wake: Wake) -> int:
    """The ledger, the deliveries and the enrollments; returns how many were written."""
    ledger = [row for run in runs for row in run.ledger]
    if ledger:
        _insert_all(EnrollmentStep, ledger, _LEDGER_TYPES)
    if wake.deliveries:
        _insert_all(
            Delivery, wake.deliveries, _DELIVERY_TYPES, ["campaign_id", "contact_id", "round"]
        )
    for run in runs:
        if run.status == EnrollmentStatus.ACTIVE.value and run.moving:
            run.wake_at = run.wake_at or wake.now
    if dialect() == "postgresql":
        return _write_enrollments_pg(runs)
    statement = (
        sa.update(E)
        .where(E.c.id == sa.bindparam("b_id"), E.c.seq == sa.bindparam("b_seq"))
        .values(
            status=sa.bindparam("b_status"),
            step=sa.bindparam("b_step"),
            seq=sa.bindparam("b_new_seq"),
            wake_at=sa.bindparam("b_wake_at", type_=UTCDateTime()),
            waiting_for=sa.bindparam("b_waiting_for"),
            left_at=sa.bindparam("b_left_at", type_=UTCDateTime()),
            exit_reason=sa.bindparam("b_exit_reason"),
        )
    )
    result = db.session.execute(
        statement,
        [
            {
                "b_id": run.id,
                "b_seq": run.claimed_seq,
                "b_status": run.status,
                "b_step": run.step,
                "b_new_seq": run.seq,
                "b_wake_at": run.wake_at,
                "b_waiting_for": run.waiting_for,
                "b_left_at": run.left_at,
                "b_exit_reason": run.exit_reason,
            }
            for run in runs
        ],
    )
    return result.rowcount


def _write_enrollments_pg(runs: list[Run]) -> int:
    rows = unnest_rows(
        {
            "id": (sa.BigInteger(), [run.id for run in runs]),
            "old_seq": (sa.Integer(), [run.claimed_seq for run in runs]),
            "status": (sa.Text(), [run.status for run in runs]),
            "step": (sa.Text(), [run.step for run in runs]),
            "seq": (sa.Integer(), [run.seq for run in runs]),
            "wake_at": (postgresql.TIMESTAMP(timezone=True), [run.wake_at for run in runs]),
            "waiting_for": (sa.Text(), [run.waiting_for for run in runs]),
            "left_at": (postgresql.TIMESTAMP(timezone=True), [run.left_at for run in runs]),
            "exit_reason": (sa.Text(), [run.exit_reason for run in runs]),
        }
    )
    written = db.session.execute(
        sa.update(E)
        .where(E.c.id == rows.c.id, E.c.seq == rows.c.old_seq)
        .values(
            status=rows.c.status,
            step=rows.c.step,
            seq=rows.c.seq,
            wake_at=rows.c.wake_at,
            waiting_for=rows.c.waiting_for,
            left_at=rows.c.left_at,
            exit_reason=rows.c.exit_reason,
        )
        .returning(E.c.id)
    ).all()
    return len(written)
