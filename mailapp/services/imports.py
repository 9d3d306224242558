"""CSV imports: upload, map columns, preview problems, then a streaming run in batches.

The file is read row by row and written a few thousand rows at a time with set-based
upserts, so memory stays flat whatever its size. Every rejected row is stored with its
line number and reason, and the report can be downloaded.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import (
    DuplicatePolicy,
    ImportJob,
    ImportProblem,
    ImportStatus,
    List,
    ListMembership,
    MembershipStatus,
    Project,
)
from mailapp.models.base import utcnow
from mailapp.services import NotFound, ServiceError
from mailapp.services.audit import Actor, record_audit
from mailapp.services.contacts import InvalidContact, bulk_upsert, clean_contact
from mailapp.services.exports import csv_lines
from mailapp.services.upserts import dialect, insert_for, unnest_rows

BATCH_ROWS = 5000
PREVIEW_ROWS = 5
PROBLEM_SCAN_ROWS = 20000  # the problems preview checks this many rows before confirming
PROBLEM_EXAMPLES = 50
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
PROFILE_FIELDS = ("email", "first_name", "last_name", "timezone", "locale", "list")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
NUMBER = re.compile(r"^-?(0|[1-9]\d{0,14})(\.\d+)?$")  # "01234" stays text: a postal code
SUGGESTIONS = {
    "email": ("email", "e-mail", "mail", "email address", "e-mail address"),
    "first_name": ("first_name", "first name", "firstname", "given name", "vorname"),
    "last_name": ("last_name", "last name", "lastname", "surname", "family name", "nachname"),
    "timezone": ("timezone", "time zone", "tz", "time_zone"),
    "locale": ("locale", "language", "lang"),
    "list": ("list", "list name"),
}
csv.field_size_limit(1024 * 1024)


@dataclass
class Upload:
    header: list[str]
    rows: list[list[str]]


def _open(path: str) -> IO[str]:
    # utf-8-sig drops a BOM if there is one; undecodable bytes become U+FFFD and the row
    # holding them is reported, instead of the whole import dying on one bad byte.
    return open(path, newline="", encoding="utf-8-sig", errors="replace")


def sniff_delimiter(sample: str) -> str:
    """`;` or `,`, whichever splits the first lines into consistent columns."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return ";" if first.count(";") > first.count(",") else ","


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
    with _open(str(path)) as handle:
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


def _reader(handle: IO[str], delimiter: str) -> Any:
    return csv.reader(handle, delimiter=delimiter)


def read_upload(job: ImportJob, rows: int = PREVIEW_ROWS) -> Upload:
    """The header and the first rows, for the mapping step."""
    with _open(job.path) as handle:
        reader = _reader(handle, job.delimiter)
        header = [h.strip() for h in next(reader, [])]
        preview = []
        for row in reader:
            if len(preview) >= rows:
                break
            if row:
                preview.append(row)
    if not any(header):
        raise ServiceError("the first line must name the columns")
    return Upload(header, preview)


def suggest_mapping(header: list[str]) -> dict[str, str]:
    """A first guess the person then corrects: known names map to fields, others to attributes."""
    mapping = {}
    for column in header:
        name = column.strip().lower()
        field = next((f for f, names in SUGGESTIONS.items() if name in names), None)
        if field is None:
            key = re.sub(r"[^a-z0-9_\-]+", "_", name).strip("_")[:64]
            field = f"attributes.{key}" if key else ""
        if field and field in mapping.values() and not field.startswith("attributes."):
            field = ""
        mapping[column] = field
    return mapping


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
class Row:
    line: int
    values: dict[str, str]
    raw: str
    problem: str | None = None


def _rows(job: ImportJob) -> Iterator[Row]:
    """Data rows with their starting line (quoted fields may span lines), mapped to fields."""
    with _open(job.path) as handle:
        reader = _reader(handle, job.delimiter)
        header = [h.strip() for h in next(reader, [])]
        index = {i: job.mapping[name] for i, name in enumerate(header) if job.mapping.get(name)}
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Row(line, {}, "", f"unreadable CSV: {exc}")
                line = reader.line_num + 1
                continue
            start, line = line, reader.line_num + 1
            joined = job.delimiter.join(cells)
            if not joined.strip(job.delimiter + " \t"):
                continue
            raw = joined[:2000]
            if len(cells) != len(header):
                yield Row(start, {}, raw, f"expected {len(header)} fields, found {len(cells)}")
            elif "\ufffd" in joined:
                yield Row(start, {}, raw, "not valid UTF-8 text")
            else:
                yield Row(start, {f: cells[i].strip() for i, f in index.items()}, raw)


def _count_rows(job: ImportJob) -> int:
    """Data rows in the file (blank lines aside), for the progress bar."""
    with _open(job.path) as handle:
        reader = _reader(handle, job.delimiter)
        next(reader, None)
        count = 0
        while True:
            try:
                count += bool(next(reader))
            except StopIteration:
                return count
            except csv.Error:
                count += 1  # reported as unreadable when the import reaches it


def _contact_data(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"attributes": {}}
    for target, value in values.items():
        if target.startswith("attributes."):
            if value:
                data["attributes"][target.removeprefix("attributes.")] = _typed(value)
        elif target != "list":
            data[target] = value or None
    return data


def _typed(value: str) -> Any:
    if NUMBER.match(value):
        return float(value) if "." in value else int(value)
    return value


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
    lists = _list_ids(project_id)
    preview = ProblemPreview()
    seen: dict[str, int] = {}
    for row in _rows(job):
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
            cleaned = clean_contact(_contact_data(row.values))
        except InvalidContact as exc:
            kind = "bad time zone" if "time zone" in str(exc) else "invalid email"
            preview.add(kind, row.line, str(exc))
            continue
        if (name := row.values.get("list")) and name not in lists:
            preview.add("unknown list", row.line, f"unknown list {name!r}")
        if (first := seen.setdefault(cleaned["email"], row.line)) != row.line:
            preview.add("duplicate in file", row.line, f"duplicate of line {first}")
        if cleaned["is_role_address"]:
            preview.add("role address", row.line, f"{cleaned['email']} is a role address")
        if cleaned["is_disposable"]:
            preview.add("disposable domain", row.line, f"{cleaned['email']} is disposable")
    return preview


def _list_ids(project_id: int) -> dict[str, int]:
    query = sa.select(List.name, List.id).where(List.project_id == project_id)
    return dict(db.session.execute(query).all())


def rows_imported_today(project_id: int) -> int:
    since = utcnow() - timedelta(days=1)
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ImportJob.processed_rows), 0)).where(
            ImportJob.project_id == project_id, ImportJob.started_at >= since
        )
    )


def _quota(project_id: int) -> int | None:
    settings = db.session.scalar(sa.select(Project.settings).where(Project.id == project_id))
    return (settings or {}).get("quota_import_rows_per_day")


def start_import(
    project_id: int, job_id: int, *, actor: Actor, policy: DuplicatePolicy | None = None
) -> ImportJob:
    """Confirm a mapped import (optionally choosing the duplicate policy now) and queue it."""
    from workers.actors.audience import run_import

    job = get_import(project_id, job_id)
    if job.status is not ImportStatus.MAPPED:
        raise ServiceError("map the columns before starting the import")
    if policy is not None:
        job.duplicate_policy = policy
    quota = _quota(project_id)
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
    run_import.send(job.id)
    return job


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
    job.total_rows = _count_rows(job)
    quota = _quota(job.project_id)
    if quota is not None and rows_imported_today(job.project_id) + job.total_rows > quota:
        return _fail(job, f"{job.total_rows:,} rows would pass the daily import quota of {quota:,}")
    db.session.commit()
    lists = _list_ids(job.project_id)
    batch: list[Row] = []
    for row in _rows(job):
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            _write_batch(job, batch, lists)
            batch = []
    if batch:
        _write_batch(job, batch, lists)
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
    return job


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
            data = clean_contact(_contact_data(row.values))
        except InvalidContact as exc:
            reject(row, str(exc))
            continue
        list_name = row.values.get("list")
        if list_name and list_name not in lists:
            reject(row, f"unknown list {list_name!r}")
            continue
        if data["email"] in lines:
            reject(row, f"duplicate of line {lines[data['email']].line}")
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


def report_lines(project_id: int, job_id: int) -> Iterator[str]:
    """The rejected rows as CSV (line, reason, row), streamed, formulas neutralized."""
    job = get_import(project_id, job_id)
    return csv_lines(("line", "reason", "row"), _problem_rows(project_id, job.id))


def _problem_rows(project_id: int, job_id: int, page: int = 1000) -> Iterator[tuple]:
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
