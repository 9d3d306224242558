"""Running an import (worker side): the file in chunks, set-based writes, progress after each.

PostgreSQL stages each chunk by COPY and merges it in SQL (`staging`); SQLite writes
batches of cleaned rows through contact_upserts.bulk_upsert.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.addresses import InvalidContact, clean_contact
from mailapp.audience.contact_upserts import bulk_upsert
from mailapp.audience.imports.files import (
    CASE_ONLY,
    Row,
    contact_data,
    count_rows,
    data_rows,
)
from mailapp.audience.imports.staging import run_staged
from mailapp.audience.imports.wizard import import_quota, list_ids, rows_imported_today
from mailapp.audience.statistics import refresh_statistics
from mailapp.extensions import db
from mailapp.models import (
    ImportJob,
    ImportProblem,
    ImportStatus,
    ListMembership,
    MembershipStatus,
)
from mailapp.models.base import utcnow
from mailapp.runtime import metrics
from mailapp.upserts import dialect, insert_for, unnest_rows

BATCH_ROWS = 5000


def run_import(job_id: int) -> ImportJob:
    """Import a queued file in batches, committing progress after each (worker side)."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return job  # already done, or never confirmed: a redelivered message changes nothing
    # A redelivered message starts over: rows written by the first attempt are then
    # existing contacts (updated, not repeats), and the counts start from zero.
    job.status, job.started_at = ImportStatus.RUNNING, utcnow()
    db.session.execute(sa.delete(ImportProblem).where(ImportProblem.import_id == job.id))
    job.processed_rows = job.created_count = job.updated_count = 0
    job.skipped_count = job.invalid_count = 0
    job.total_rows = count_rows(job)
    quota = import_quota(job.project_id)
    if quota is not None and rows_imported_today(job.project_id) + job.total_rows > quota:
        return _fail(job, f"{job.total_rows:,} rows would pass the daily import quota of {quota:,}")
    db.session.commit()
    lists = list_ids(job.project_id)
    if dialect() == "postgresql":
        run_staged(job, lists)  # each chunk commits the counters the progress bar polls
        db.session.refresh(job)
    else:
        _write_batches(job, lists)
    job.status, job.finished_at = ImportStatus.DONE, utcnow()
    record_audit(
        Actor.system("import"),
        "import.finish",
        project_id=job.project_id,
        obj=job,
        context={
            "rows": job.processed_rows,
            "created": job.created_count,
            "updated": job.updated_count,
            "skipped": job.skipped_count,
            "invalid": job.invalid_count,
        },
    )
    db.session.commit()
    Path(job.path).unlink(missing_ok=True)
    refresh_statistics(only_stale=False)  # the next audience reading is planned on the new rows
    return job


def _write_batches(job: ImportJob, lists: dict[str, int]) -> None:
    """SQLite: the rows in batches of set-based upserts (PostgreSQL stages them by COPY)."""
    batch: list[Row] = []
    for row in data_rows(job):
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            _write_batch(job, batch, lists)
            metrics.IMPORT_ROWS.inc(len(batch))
            batch = []
    if batch:
        _write_batch(job, batch, lists)
        metrics.IMPORT_ROWS.inc(len(batch))


def fail_import(job_id: int, error: str) -> None:
    """Mark an import failed (the worker gave up on it)."""
    job = db.session.get(ImportJob, job_id)
    if job is not None and job.status is not ImportStatus.DONE:
        _fail(job, error)


def _fail(job: ImportJob, error: str) -> ImportJob:
    job.status, job.error, job.finished_at = ImportStatus.FAILED, error[:2000], utcnow()
    record_audit(
        Actor.system("import"),
        "import.fail",
        project_id=job.project_id,
        obj=job,
        context={"error": error[:200]},
    )
    db.session.commit()
    return job


def _write_batch(job: ImportJob, batch: list[Row], lists: dict[str, int]) -> None:
    problems: list[dict[str, Any]] = []
    cleaned: dict[str, dict[str, Any]] = {}  # email -> cleaned row (first occurrence wins)
    lines: dict[str, Row] = {}
    row_lists: list[tuple[str, int]] = []

    def reject(row: Row, reason: str) -> None:
        problems.append(
            {"project_id": job.project_id, "import_id": job.id, "line": row.line,
             "reason": reason[:255], "raw": row.raw}
        )  # fmt: skip

    for row in batch:
        if row.problem:
            reject(row, row.problem)
            continue
        if not row.values.get("email"):
            reject(row, "email is empty")
            continue
        try:
            data = clean_contact(contact_data(row.values))
        except InvalidContact as exc:
            reject(row, str(exc))
            continue
        list_name = row.values.get("list")
        if list_name and list_name not in lists:
            reject(row, f"unknown list {list_name!r}")
            continue
        if (first := cleaned.get(data["email"])) is not None:
            case = CASE_ONLY if first["email_raw"] != data["email_raw"] else ""
            reject(row, f"duplicate of line {lines[data['email']].line}{case}")
            continue
        cleaned[data["email"]] = data
        lines[data["email"]] = row
        if list_name:
            row_lists.append((data["email"], lists[list_name]))
    counts = bulk_upsert(
        job.project_id,
        list(cleaned.values()),
        policy=job.duplicate_policy,
        source=f"import:{job.id}",
        touched_since=job.started_at,
    )
    for email in counts.repeated:
        reject(lines[email], "duplicate of an earlier line")
    for email in counts.suppressed:
        problems.append(
            {"project_id": job.project_id, "import_id": job.id, "line": lines[email].line,
             "reason": "address is suppressed; left as it is", "raw": lines[email].raw}
        )  # fmt: skip
    _add_memberships(job, counts.ids, row_lists)
    if problems:
        db.session.execute(sa.insert(ImportProblem), problems)
    rejected = len(problems) - len(counts.suppressed)
    job.processed_rows += len(batch)
    job.created_count += counts.created
    job.updated_count += counts.updated
    job.skipped_count += counts.skipped + len(counts.suppressed)
    job.invalid_count += rejected
    db.session.commit()


def _add_memberships(job: ImportJob, ids: dict[str, int], row_lists: list[tuple[str, int]]) -> None:
    pairs = {(list_id, ids[email]) for email, list_id in row_lists if email in ids}
    if job.list_id is not None:
        pairs |= {(job.list_id, contact_id) for contact_id in ids.values()}
    if not pairs:
        return
    now = utcnow()
    ordered = sorted(pairs)
    stmt = insert_for(ListMembership).on_conflict_do_nothing()
    if dialect() == "postgresql":
        u = unnest_rows(
            {
                "list_id": (sa.Integer, [list_id for list_id, _ in ordered]),
                "contact_id": (sa.BigInteger, [contact_id for _, contact_id in ordered]),
            }
        )
        table = ListMembership.__table__.c
        db.session.execute(
            stmt.from_select(
                ["project_id", "list_id", "contact_id", "status", "confirmed_at", "created_at"],
                sa.select(
                    sa.literal(job.project_id),
                    u.c.list_id,
                    u.c.contact_id,
                    sa.literal(MembershipStatus.CONFIRMED.value),
                    sa.literal(now, table.confirmed_at.type),
                    sa.literal(now, table.created_at.type),
                ),
            )
        )
        return
    db.session.execute(
        stmt,
        [
            {"project_id": job.project_id, "list_id": list_id, "contact_id": contact_id,
             "status": MembershipStatus.CONFIRMED.value, "confirmed_at": now, "created_at": now}
            for list_id, contact_id in ordered
        ],
    )  # fmt: skip
