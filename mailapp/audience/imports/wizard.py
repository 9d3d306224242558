"""CSV imports: upload, map columns, preview problems, then a streaming run in batches.

The file is read row by row and written a few thousand rows at a time with set-based
upserts, so memory stays flat whatever its size. Every rejected row is stored with its
line number and reason, and the report can be downloaded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from mailapp import tasks
from mailapp.access.audit import Actor, record_audit
from mailapp.audience.addresses import InvalidContact, clean_contact
from mailapp.audience.imports.files import (
    ATTRIBUTE_KEY,
    CASE_ONLY,
    PROFILE_FIELDS,
    contact_data,
    data_rows,
    open_upload,
    read_upload,
    sniff_delimiter,
    suggest_mapping,
)
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    DuplicatePolicy,
    ImportJob,
    ImportProblem,
    ImportStatus,
    List,
    Project,
)
from mailapp.models.base import utcnow
from mailapp.safe_csv import csv_lines

PROBLEM_SCAN_ROWS = 20000  # the problems preview checks this many rows before confirming
PROBLEM_EXAMPLES = 50
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def create_import(
    project_id: int, filename: str, stream: IO[bytes], *, upload_dir: Path, actor: Actor
) -> ImportJob:
    """Store an uploaded CSV (copied in chunks) and detect its delimiter."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = upload_dir / f"{uuid.uuid4().hex}.csv"
    size = 0
    with path.open("wb") as out:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                out.close()
                path.unlink()
                raise ServiceError(f"the file is larger than {MAX_UPLOAD_BYTES >> 20} MiB")
            out.write(chunk)
    with open_upload(str(path)) as handle:
        sample = handle.read(64 * 1024)
    if not sample.strip():
        path.unlink()
        raise ServiceError("the file is empty")
    job = ImportJob(
        project_id=project_id,
        created_by_id=actor.user_id,
        filename=Path(filename or "upload.csv").name[:255],
        path=str(path),
        size=size,
        delimiter=sniff_delimiter(sample),
        status=ImportStatus.UPLOADED,
    )
    db.session.add(job)
    db.session.flush()
    job.mapping = suggest_mapping(read_upload(job).header)
    record_audit(
        actor,
        "import.upload",
        project_id=project_id,
        obj=job,
        context={"filename": job.filename, "size": size},
    )
    db.session.commit()
    return job


def recent_imports(project_id: int, limit: int = 20) -> list[ImportJob]:
    query = (
        sa.select(ImportJob)
        .where(ImportJob.project_id == project_id)
        .order_by(ImportJob.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def get_import(project_id: int, job_id: int) -> ImportJob:
    job = db.session.scalar(
        sa.select(ImportJob).where(ImportJob.project_id == project_id, ImportJob.id == job_id)
    )
    if job is None:
        raise NotFound("no such import")
    return job


def set_mapping(
    project_id: int,
    job_id: int,
    mapping: dict[str, str],
    *,
    actor: Actor,
    list_id: int | None = None,
    policy: DuplicatePolicy = DuplicatePolicy.UPDATE,
) -> ImportJob:
    """Fix the column mapping, target list and duplicate policy of an uploaded file."""
    job = get_import(project_id, job_id)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.MAPPED):
        raise ServiceError("this import has already started")
    header = read_upload(job, rows=0).header
    clean: dict[str, str] = {}
    for column, target in mapping.items():
        if column not in header:
            raise ServiceError(f"the file has no column {column!r}")
        target = (target or "").strip()
        if not target:
            continue
        if target.startswith("attributes."):
            if not ATTRIBUTE_KEY.match(target.removeprefix("attributes.")):
                raise ServiceError(f"{target!r}: attribute names use letters, digits, _ and -")
        elif target not in PROFILE_FIELDS:
            raise ServiceError(f"{target!r} is not a contact field")
        if target in clean.values():
            raise ServiceError(f"two columns are mapped to {target!r}")
        clean[column] = target
    if "email" not in clean.values():
        raise ServiceError("map one column to email")
    if list_id is not None and not db.session.scalar(
        sa.select(List.id).where(List.project_id == project_id, List.id == list_id)
    ):
        raise NotFound("no such list")
    job.mapping, job.list_id, job.duplicate_policy = clean, list_id, policy
    job.status = ImportStatus.MAPPED
    record_audit(
        actor,
        "import.map",
        project_id=project_id,
        obj=job,
        context={"mapping": clean, "list_id": list_id, "policy": policy.value},
    )
    db.session.commit()
    return job


@dataclass
class ProblemPreview:
    checked: int = 0
    complete: bool = True  # False when the file has more rows than were checked
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, kind: str, line: int, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.examples) < PROBLEM_EXAMPLES:
            self.examples.append((line, detail))


def preview_problems(project_id: int, job_id: int) -> ProblemPreview:
    """Check the first rows as the import would, before anything is written."""
    job = get_import(project_id, job_id)
    lists = list_ids(project_id)
    preview = ProblemPreview()
    seen: dict[str, tuple[int, str]] = {}  # normalized email -> (first line, as typed there)
    for row in data_rows(job):
        if preview.checked >= PROBLEM_SCAN_ROWS:
            preview.complete = False
            break
        preview.checked += 1
        if row.problem:
            preview.add("malformed", row.line, row.problem)
            continue
        if not row.values.get("email"):
            preview.add("empty email", row.line, "email is empty")
            continue
        try:
            cleaned = clean_contact(contact_data(row.values))
        except InvalidContact as exc:
            kind = "bad time zone" if "time zone" in str(exc) else "invalid email"
            preview.add(kind, row.line, str(exc))
            continue
        if (name := row.values.get("list")) and name not in lists:
            preview.add("unknown list", row.line, f"unknown list {name!r}")
        first = seen.setdefault(cleaned["email"], (row.line, cleaned["email_raw"]))
        if first[0] != row.line:
            preview.add("duplicate in file", row.line, repeat_detail(row.line, first, cleaned))
        if cleaned["is_role_address"]:
            preview.add("role address", row.line, f"{cleaned['email']} is a role address")
        if cleaned["is_disposable"]:
            preview.add("disposable domain", row.line, f"{cleaned['email']} is disposable")
    return preview


def repeat_detail(line: int, first: tuple[int, str], cleaned: dict[str, Any]) -> str:
    """How a repeated address is reported: the first line, and whether only the case differs."""
    text = f"line {line} repeats line {first[0]}"
    return text + CASE_ONLY if cleaned["email_raw"] != first[1] else text


def list_ids(project_id: int) -> dict[str, int]:
    query = sa.select(List.name, List.id).where(List.project_id == project_id)
    return dict(db.session.execute(query).all())


def rows_imported_today(project_id: int) -> int:
    since = utcnow() - timedelta(days=1)
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ImportJob.processed_rows), 0)).where(
            ImportJob.project_id == project_id, ImportJob.started_at >= since
        )
    )


def import_quota(project_id: int) -> int | None:
    settings = db.session.scalar(sa.select(Project.settings).where(Project.id == project_id))
    return (settings or {}).get("quota_import_rows_per_day")


def start_import(
    project_id: int, job_id: int, *, actor: Actor, policy: DuplicatePolicy | None = None
) -> ImportJob:
    """Confirm a mapped import (optionally choosing the duplicate policy now) and queue it."""
    job = get_import(project_id, job_id)
    if job.status is not ImportStatus.MAPPED:
        raise ServiceError("map the columns before starting the import")
    if policy is not None:
        job.duplicate_policy = policy
    quota = import_quota(project_id)
    if quota is not None and rows_imported_today(project_id) >= quota:
        raise ServiceError(f"the daily import quota of {quota:,} rows is used up")
    job.status = ImportStatus.QUEUED
    record_audit(
        actor,
        "import.start",
        project_id=project_id,
        obj=job,
        context={"policy": job.duplicate_policy.value, "filename": job.filename},
    )
    db.session.commit()
    tasks.run_import(job.id)
    return job


def report_lines(project_id: int, job_id: int) -> Iterator[str]:
    """The rejected rows as CSV (line, reason, row), streamed, formulas neutralized."""
    job = get_import(project_id, job_id)
    return csv_lines(("line", "reason", "row"), _problemdata_rows(project_id, job.id))


def _problemdata_rows(project_id: int, job_id: int, page: int = 1000) -> Iterator[tuple]:
    # Keyset pages rather than a server-side cursor, which a commit elsewhere would close.
    after = (0, 0)
    while True:
        rows = db.session.execute(
            sa.select(ImportProblem.line, ImportProblem.id, ImportProblem.reason, ImportProblem.raw)
            .where(
                ImportProblem.project_id == project_id,
                ImportProblem.import_id == job_id,
                sa.tuple_(ImportProblem.line, ImportProblem.id) > after,
            )
            .order_by(ImportProblem.line, ImportProblem.id)
            .limit(page)
        ).all()
        for line, _, reason, raw in rows:
            yield line, reason, raw
        if len(rows) < page:
            return
        after = (rows[-1].line, rows[-1].id)


def progress(project_id: int, job_id: int) -> dict[str, Any]:
    """What the progress bar polls."""
    job = get_import(project_id, job_id)
    return {
        "id": job.id,
        "status": job.status.value,
        "total": job.total_rows,
        "processed": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "invalid": job.invalid_count,
        "error": job.error,
    }
