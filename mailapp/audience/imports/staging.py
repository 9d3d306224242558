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
import itertools
import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import sqlalchemy as sa

from mailapp.audience.imports.chunks import (
    STAGE_DDL,
    TYPES,
    ParseJob,
    chunk_table,
    parse_into,
)
from mailapp.audience.imports.merge import SEEN_DDL, MergePlan, mark_duplicates, merge_chunk
from mailapp.extensions import db
from mailapp.models import (
    ImportJob,
    Suppression,
)
from mailapp.runtime import metrics

MERGERS = 2  # chunks merged at once, each on its own connection (and server process)
ANALYZE_AFTER_ROWS = 10_000  # fresh planner statistics after a large import


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
        connection.exec_driver_sql(SEEN_DDL)
        connection.commit()
        plan = MergePlan.of(job)
        chunks: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        parser = threading.Thread(
            target=parse_into,
            args=(chunks, stop, ParseJob.of(job), lists, hash_emails),
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
                pending.append(pool.submit(merge_chunk, engine, plan, table, rows, hash_emails))
                while len(pending) > MERGERS or (pending and pending[0].done()):
                    pending.popleft().result()
                imported += rows
                metrics.IMPORT_ROWS.inc(rows)
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


def _drop_chunk_tables(connection: sa.Connection, job_id: int) -> None:
    names = connection.scalars(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE :pattern"
        ).bindparams(pattern=f"import\\_{job_id}\\_%")
    ).all()
    for name in names:
        connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


TYPES |= {"is_role_address": sa.Boolean, "is_disposable": sa.Boolean}


def _stage_chunk(connection: sa.Connection, job_id: int, number: int, data: bytes) -> str:
    """COPY a chunk into its own UNLOGGED table and mark its duplicates; the table's name."""
    table = f"import_{job_id}_{number}"
    connection.exec_driver_sql(f"CREATE UNLOGGED TABLE {table} ({STAGE_DDL})")
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
        copy.write(data)
    connection.exec_driver_sql(f"ANALYZE {table}")
    mark_duplicates(connection, chunk_table(table))
    connection.commit()
    return table
