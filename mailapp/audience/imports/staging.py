"""PostgreSQL imports: the file COPYed into a staging table in chunks, merged set-based.

A parser thread reads the CSV, checks each row in Python (a fast, strict email check that
sends anything unusual to email-validator; time zones; lists) and renders the chunk as CSV
text. The calling thread COPYs each chunk into a temporary table and merges it with a few
statements (duplicates in the file, suppression, the contacts upsert under the duplicate
policy, list memberships, the problem report) while the parser works on the next chunk:
psycopg releases the GIL while PostgreSQL works, so both cores are busy. Memory holds at
most a few chunks whatever the file size.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import queue
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mailapp.audience.addresses import InvalidContact, clean_contact
from mailapp.audience.contact_upserts import _merge_set
from mailapp.audience.imports.files import contact_data, data_rows
from mailapp.audience.suppression import email_hash
from mailapp.extensions import db
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

CHUNK_ROWS = 25_000
MERGERS = 2  # chunks merged at once, each on its own connection (and server process)
SUPPRESSED = "address is suppressed; left as it is"
# Profile columns of the staging table, as the CSV mapping names them.
PROFILE = ("first_name", "last_name", "timezone", "locale")
ANALYZE_AFTER_ROWS = 10_000  # fresh planner statistics after a large import


@dataclass
class ChunkCounts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    invalid: int = 0


def run_staged(job: ImportJob, lists: dict[str, int]) -> None:
    """Import the job's file chunk by chunk, committing each with the job's counters.

    Three stages overlap: the parser thread checks rows; this thread COPYs each chunk into
    an UNLOGGED table of its own and marks the duplicates (in file order, so this stage is
    serial); MERGERS threads, each on its own connection, merge chunks concurrently. Once
    duplicates are marked no two chunks hold the same address, so concurrent merges never
    touch the same contact.
    """
    # Statements name per-chunk tables: caching their compiled form would only grow memory.
    engine = db.engine.execution_options(compiled_cache=None)
    with engine.connect() as connection:
        hash_emails = bool(
            connection.scalar(
                sa.select(Suppression.id).where(Suppression.project_id == job.project_id).limit(1)
            )
        )
        _drop_chunk_tables(connection, job.id)  # left by an attempt that died
        connection.exec_driver_sql("CREATE TEMPORARY TABLE import_seen (email text, line int)")
        connection.commit()
        plan = _MergePlan.of(job)
        chunks: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        parser = threading.Thread(
            target=_parse_into,
            args=(chunks, stop, _ParseJob.of(job), lists, hash_emails),
            name=f"import-{job.id}-parser",
            daemon=True,
        )
        parser.start()
        pool = ThreadPoolExecutor(MERGERS, thread_name_prefix=f"import-{job.id}-merge")
        try:
            pending: deque[Future] = deque()
            imported = 0
            for number in itertools.count():
                if (item := chunks.get()) is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                data, rows = item
                table = _stage_chunk(connection, job.id, number, data)
                pending.append(pool.submit(_merge_chunk, engine, plan, table, rows, hash_emails))
                while len(pending) > MERGERS or (pending and pending[0].done()):
                    pending.popleft().result()
                imported += rows
            while pending:
                pending.popleft().result()
            if imported >= ANALYZE_AFTER_ROWS:
                connection.exec_driver_sql("ANALYZE contacts")
                connection.exec_driver_sql("ANALYZE list_memberships")
                connection.commit()
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            while parser.is_alive():  # a parser blocked on the full queue gets to finish
                with contextlib.suppress(queue.Empty):
                    chunks.get(timeout=0.1)
            connection.rollback()
            connection.exec_driver_sql("DROP TABLE IF EXISTS import_seen")
            _drop_chunk_tables(connection, job.id)
            connection.commit()


@dataclass(frozen=True)
class _MergePlan:
    """What a merging thread needs of the job: plain values, no session-bound object."""

    job_id: int
    project_id: int
    list_id: int | None
    policy: DuplicatePolicy
    merged: dict[str, Any]  # ON CONFLICT ... SET under the policy, built with the app context

    @classmethod
    def of(cls, job: ImportJob) -> _MergePlan:
        policy = job.duplicate_policy
        if policy is DuplicatePolicy.SKIP:
            # A no-op update rather than DO NOTHING, so that skipped contacts are returned
            # too and still join the lists; the merge counts them as skipped.
            merged = {"email": Contact.__table__.c.email}
        else:
            merged = _merge_set(postgresql.insert(Contact.__table__).excluded, policy)
        return cls(job.id, job.project_id, job.list_id, policy, merged)


def _drop_chunk_tables(connection: sa.Connection, job_id: int) -> None:
    names = connection.scalars(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE :pattern"
        ).bindparams(pattern=f"import\\_{job_id}\\_%")
    ).all()
    for name in names:
        connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


@dataclass(frozen=True)
class _ParseJob:
    """What the parser thread needs of the job: plain values, no session-bound object."""

    path: str
    delimiter: str
    mapping: dict[str, str]

    @classmethod
    def of(cls, job: ImportJob) -> _ParseJob:
        return cls(job.path, job.delimiter, dict(job.mapping))


STAGE_DDL = ", ".join(
    [
        "line integer",
        "email text",
        "email_raw text",
        *[f"{name} text" for name in PROFILE],
        "list_id integer",
        "attributes jsonb",
        "is_role_address boolean",
        "is_disposable boolean",
        "email_hash text",
        "reason text",
        "raw text",
    ]
)
TYPES = {"line": sa.Integer, "list_id": sa.Integer, "attributes": postgresql.JSONB}
TYPES |= {"is_role_address": sa.Boolean, "is_disposable": sa.Boolean}


SEEN = sa.table("import_seen", sa.column("email", sa.Text), sa.column("line", sa.Integer))


def _chunk_table(name: str) -> sa.TableClause:
    columns = [c.split()[0] for c in STAGE_DDL.split(", ")]
    return sa.table(name, *[sa.column(c, TYPES.get(c, sa.Text)) for c in columns])


# -- parsing (its own thread: no database access here) ------------------------------------


def _parse_into(
    chunks: queue.Queue,
    stop: threading.Event,
    job: _ParseJob,
    lists: dict[str, int],
    hash_emails: bool,
) -> None:
    try:
        for chunk in _render_chunks(job, lists, hash_emails):
            if stop.is_set():  # the import failed downstream: no point reading on
                return
            chunks.put(chunk)
        chunks.put(None)
    except BaseException as exc:  # handed to the merging thread, which raises it
        chunks.put(exc)


def _render_chunks(
    job: _ParseJob, lists: dict[str, int], hash_emails: bool
) -> Iterator[tuple[bytes, int]]:
    """The file as CSV for COPY (UTF-8), CHUNK_ROWS rows at a time, each row checked."""
    width = 11  # the cells _checked_cells gives
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    rows = 0
    for row in data_rows(job):
        rows += 1
        values = row.values
        reason = row.problem
        cells: list[Any] = []
        if reason is None:
            try:
                cells = _checked_cells(values, lists, hash_emails)
            except InvalidContact as exc:
                reason = str(exc)
        if reason is None:
            out.writerow((row.line, *cells, None, row.raw))
        else:
            out.writerow((row.line, *([None] * width), reason[:255], row.raw))
        if rows >= CHUNK_ROWS:
            yield buffer.getvalue().encode(), rows
            buffer.seek(0)
            buffer.truncate()
            rows = 0
    if rows:
        yield buffer.getvalue().encode(), rows


def _checked_cells(values: dict[str, str], lists: dict[str, int], hash_emails: bool) -> list[Any]:
    """A valid row's staging cells, checked as every other write is; else InvalidContact."""
    if not values.get("email"):
        raise InvalidContact("email is empty")
    row = clean_contact(contact_data(values))
    list_id = None
    if list_name := values.get("list"):
        list_id = lists.get(list_name)
        if list_id is None:
            raise InvalidContact(f"unknown list {list_name!r}")
    return [
        row["email"],
        row["email_raw"],
        row["first_name"],
        row["last_name"],
        row["timezone"],
        row["locale"],
        list_id,
        json.dumps(row["attributes"], ensure_ascii=False),
        "t" if row["is_role_address"] else "f",
        "t" if row["is_disposable"] else "f",
        email_hash(row["email"]) if hash_emails else None,
    ]


# -- merging (the job's thread and session) -----------------------------------------------


def _stage_chunk(connection: sa.Connection, job_id: int, number: int, data: bytes) -> str:
    """COPY a chunk into its own UNLOGGED table and mark its duplicates; the table's name."""
    table = f"import_{job_id}_{number}"
    connection.exec_driver_sql(f"CREATE UNLOGGED TABLE {table} ({STAGE_DDL})")
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
        copy.write(data)
    connection.exec_driver_sql(f"ANALYZE {table}")
    _mark_duplicates(connection, _chunk_table(table))
    connection.commit()
    return table


def _mark_duplicates(connection: sa.Connection, chunk: sa.TableClause) -> None:
    """Later occurrences of an address name the line of its first in the file."""
    c = chunk.c
    first = sa.func.min(c.line).over(partition_by=c.email).label("first")
    w = sa.select(c.line, c.email, first).where(c.reason.is_(None)).subquery("w")
    d = (
        sa.select(w.c.line, sa.func.coalesce(SEEN.c.line, w.c.first).label("first"))
        .select_from(w.outerjoin(SEEN, SEEN.c.email == w.c.email))
        .subquery("d")
    )
    connection.execute(
        sa.update(chunk)
        .where(c.line == d.c.line, d.c.first != d.c.line)
        .values(reason=sa.literal("duplicate of line ") + sa.cast(d.c.first, sa.Text))
    )
    # Only first occurrences are left valid, so import_seen holds each address once.
    connection.execute(
        sa.insert(SEEN).from_select(
            ["email", "line"], sa.select(c.email, c.line).where(c.reason.is_(None))
        )
    )


def _merge_chunk(
    engine: sa.Engine, plan: _MergePlan, table: str, rows: int, hash_emails: bool
) -> None:
    """Merge one staged chunk and add its counts to the job's, in one transaction."""
    chunk = _chunk_table(table)
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
    connection: sa.Connection, job: _MergePlan, stage: sa.TableClause
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


def _memberships(job: _MergePlan, now: Any, contacts: Any, stage: sa.TableClause) -> Any:
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
    connection: sa.Connection, job: _MergePlan, chunk: sa.TableClause
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
