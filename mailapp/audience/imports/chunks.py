"""A CSV file read into checked chunks for COPY, in the PostgreSQL import's parser thread.

Each row is checked as every other write is (`clean_contact`, the mapped list) and rendered
as a line of the staging table's CSV; a refused row keeps its line, reason and raw text, so
the merge can report it. No database access here: this runs in its own thread."""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mailapp.audience.addresses import InvalidContact, clean_contact
from mailapp.audience.imports.files import contact_data, data_rows
from mailapp.audience.suppression import email_hash
from mailapp.models import (
    ImportJob,
)

CHUNK_ROWS = 25_000


# Profile columns of the staging table, as the CSV mapping names them.
PROFILE = ("first_name", "last_name", "timezone", "locale")


@dataclass(frozen=True)
class ParseJob:
    """What the parser thread needs of the job: plain values, no session-bound object."""

    path: str
    delimiter: str
    mapping: dict[str, str]

    @classmethod
    def of(cls, job: ImportJob) -> ParseJob:
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


def chunk_table(name: str) -> sa.TableClause:
    """A staged chunk's table, with the column types the merge statements need."""
    columns = [c.split()[0] for c in STAGE_DDL.split(", ")]
    return sa.table(name, *[sa.column(c, TYPES.get(c, sa.Text)) for c in columns])


def parse_into(
    chunks: queue.Queue,
    stop: threading.Event,
    job: ParseJob,
    lists: dict[str, int],
    hash_emails: bool,
) -> None:
    """Feed checked chunks to the queue, then None; an exception is handed over, not raised."""
    try:
        for chunk in _render_chunks(job, lists, hash_emails):
            if stop.is_set():  # the import failed downstream: no point reading on
                return
            chunks.put(chunk)
        chunks.put(None)
    except BaseException as exc:  # handed to the merging thread, which raises it
        chunks.put(exc)


def _render_chunks(
    job: ParseJob, lists: dict[str, int], hash_emails: bool
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
