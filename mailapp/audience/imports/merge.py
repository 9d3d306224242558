"""Merging one staged chunk of a PostgreSQL import into contacts, in a few set-based statements.

In order: duplicates inside the file are marked (serially, in file order, against the
addresses earlier chunks held); then, on a merging thread's own connection, suppressed
addresses are left as they are, contacts are upserted under the job's duplicate policy,
list memberships are added and every refused or skipped row lands in the problem report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mailapp.audience.contact_upserts import _merge_set
from mailapp.audience.imports.chunks import (
    PROFILE,
    chunk_table,
)
from mailapp.audience.imports.files import CASE_ONLY
from mailapp.models import (
    Contact,
    ContactStatus,
    DuplicatePolicy,
    ImportJob,
    ImportProblem,
    ListMembership,
    MembershipStatus,
    Suppression,
)
from mailapp.models.base import utcnow

SUPPRESSED = "address is suppressed; left as it is"


@dataclass
class ChunkCounts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    invalid: int = 0


@dataclass(frozen=True)
class MergePlan:
    """What a merging thread needs of the job: plain values, no session-bound object."""

    job_id: int
    project_id: int
    list_id: int | None
    policy: DuplicatePolicy
    merged: dict[str, Any]  # ON CONFLICT ... SET under the policy, built with the app context

    @classmethod
    def of(cls, job: ImportJob) -> MergePlan:
        policy = job.duplicate_policy
        if policy is DuplicatePolicy.SKIP:
            # A no-op update rather than DO NOTHING, so that skipped contacts are returned
            # too and still join the lists; the merge counts them as skipped.
            merged = {"email": Contact.__table__.c.email}
        else:
            merged = _merge_set(postgresql.insert(Contact.__table__).excluded, policy)
        return cls(job.id, job.project_id, job.list_id, policy, merged)


SEEN = sa.table(
    "import_seen",
    sa.column("email", sa.Text),
    sa.column("line", sa.Integer),
    sa.column("email_raw", sa.Text),
)
SEEN_DDL = "CREATE TEMPORARY TABLE import_seen (email text, line int, email_raw text)"


def mark_duplicates(connection: sa.Connection, chunk: sa.TableClause) -> None:
    """Later occurrences of an address name the line of its first, and if only case differs."""
    c = chunk.c
    window = {"partition_by": c.email, "order_by": c.line}
    w = (
        sa.select(
            c.line,
            c.email,
            c.email_raw,
            sa.func.min(c.line).over(partition_by=c.email).label("first"),
            sa.func.first_value(c.email_raw).over(**window).label("first_raw"),
        )
        .where(c.reason.is_(None))
        .subquery("w")
    )
    d = (
        sa.select(
            w.c.line,
            w.c.email_raw,
            sa.func.coalesce(SEEN.c.line, w.c.first).label("first"),
            sa.func.coalesce(SEEN.c.email_raw, w.c.first_raw).label("first_raw"),
        )
        .select_from(w.outerjoin(SEEN, SEEN.c.email == w.c.email))
        .subquery("d")
    )
    case = sa.case((d.c.first_raw != d.c.email_raw, CASE_ONLY), else_="")
    connection.execute(
        sa.update(chunk)
        .where(c.line == d.c.line, d.c.first != d.c.line)
        .values(reason=sa.literal("duplicate of line ") + sa.cast(d.c.first, sa.Text) + case)
    )
    # Only first occurrences are left valid, so import_seen holds each address once.
    connection.execute(
        sa.insert(SEEN).from_select(
            ["email", "line", "email_raw"],
            sa.select(c.email, c.line, c.email_raw).where(c.reason.is_(None)),
        )
    )


def merge_chunk(
    engine: sa.Engine, plan: MergePlan, table: str, rows: int, hash_emails: bool
) -> None:
    """Merge one staged chunk and add its counts to the job's, in one transaction."""
    chunk = chunk_table(table)
    with engine.connect() as connection:
        if hash_emails:
            _mark_suppressed(connection, plan.project_id, chunk)
        created, written = _upsert_contacts(connection, plan, chunk)
        if plan.policy is DuplicatePolicy.SKIP:
            written = created
        invalid, suppressed = _record_problems(connection, plan, chunk)
        valid = rows - invalid - suppressed
        counts = ChunkCounts(
            rows=rows,
            created=created,
            updated=written - created,
            skipped=valid - written + suppressed,
            invalid=invalid,
        )
        column = ImportJob.__table__.c
        connection.execute(
            sa.update(ImportJob)
            .where(ImportJob.id == plan.job_id)
            .values(
                processed_rows=column.processed_rows + counts.rows,
                created_count=column.created_count + counts.created,
                updated_count=column.updated_count + counts.updated,
                skipped_count=column.skipped_count + counts.skipped,
                invalid_count=column.invalid_count + counts.invalid,
            )
        )
        connection.exec_driver_sql(f"DROP TABLE {table}")
        connection.commit()


def _mark_suppressed(connection: sa.Connection, project_id: int, chunk: sa.TableClause) -> None:
    """Suppressed addresses are reported and left alone (the parser hashed them)."""
    connection.execute(
        sa.update(chunk)
        .where(
            Suppression.project_id == project_id,
            Suppression.email_hash == chunk.c.email_hash,
            chunk.c.reason.is_(None),
        )
        .values(reason=SUPPRESSED)
    )


def _upsert_contacts(
    connection: sa.Connection, job: MergePlan, stage: sa.TableClause
) -> tuple[int, int]:
    """Insert or merge the chunk's valid rows; (created, written) under the policy."""
    now = utcnow()
    table = Contact.__table__
    u = stage.c
    columns = {
        "project_id": sa.literal(job.project_id),
        "email": u.email,
        "email_raw": u.email_raw,
        "status": sa.literal(ContactStatus.ACTIVE.value),
        **{name: u[name] for name in PROFILE},
        "attributes": u.attributes,
        "source": sa.literal(f"import:{job.job_id}", sa.String),
        "is_role_address": u.is_role_address,
        "is_disposable": u.is_disposable,
        "quarantined": sa.or_(u.is_role_address, u.is_disposable),
        "soft_bounces": sa.literal(0),
        "created_at": sa.literal(now, table.c.created_at.type),
        "updated_at": sa.literal(now, table.c.updated_at.type),
    }
    stmt = postgresql.insert(table).from_select(
        list(columns), sa.select(*columns.values()).where(u.reason.is_(None))
    )
    stmt = stmt.on_conflict_do_update(index_elements=["project_id", "email"], set_=job.merged)
    # xmax is 0 on a freshly inserted row version: created rather than updated.
    written = stmt.returning(
        table.c.id, table.c.email, sa.literal_column("xmax = 0").label("created")
    ).cte("written")
    members = _memberships(job, now, written, stage).cte("members")
    created = sa.func.count().filter(written.c.created)
    query = sa.select(created, sa.func.count()).select_from(written)
    row = connection.execute(query.add_cte(members)).one()
    return row[0], row[1]


def _memberships(job: MergePlan, now: Any, contacts: Any, stage: sa.TableClause) -> Any:
    """Membership rows for `contacts` (id, email): the import's list and the row's list."""
    table = ListMembership.__table__.c
    selects = [
        sa.select(
            sa.literal(job.project_id),
            list_column,
            contacts.c.id,
            sa.literal(MembershipStatus.CONFIRMED.value),
            sa.literal(now, table.confirmed_at.type),
            sa.literal(now, table.created_at.type),
        )
        .select_from(contacts.join(stage, stage.c.email == contacts.c.email))
        .where(stage.c.reason.is_(None), list_column.is_not(None))
        for list_column in (stage.c.list_id, sa.literal(job.list_id, sa.Integer))
    ]
    columns = ["project_id", "list_id", "contact_id", "status", "confirmed_at", "created_at"]
    rows = selects[0] if job.list_id is None else sa.union_all(*selects)
    return (
        postgresql.insert(ListMembership.__table__)
        .from_select(columns, rows)
        .on_conflict_do_nothing()
    )


def _record_problems(
    connection: sa.Connection, job: MergePlan, chunk: sa.TableClause
) -> tuple[int, int]:
    """Store the chunk's rejected rows for the report; (invalid, suppressed)."""
    table = ImportProblem.__table__
    c = chunk.c
    problems = (
        sa.insert(table)
        .from_select(
            ["project_id", "import_id", "line", "reason", "raw"],
            sa.select(
                sa.literal(job.project_id), sa.literal(job.job_id), c.line, c.reason, c.raw
            ).where(c.reason.is_not(None)),
        )
        .returning(table.c.reason)
        .cte("problems")
    )
    suppressed = problems.c.reason == SUPPRESSED
    row = connection.execute(
        sa.select(sa.func.count().filter(sa.not_(suppressed)), sa.func.count().filter(suppressed))
    ).one()
    return row[0], row[1]
