"""CSV imports: the job, its progress and counts, and every row it rejected."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import (
    Base,
    BigIntPK,
    JSONType,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    enum_type,
)


class ImportStatus(enum.StrEnum):
    UPLOADED = "uploaded"
    MAPPED = "mapped"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DuplicatePolicy(enum.StrEnum):
    UPDATE = "update"
    FILL_EMPTY = "fill_empty"
    SKIP = "skip"


class ImportJob(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(sa.String(255))
    # Where the upload is kept until the import finishes (instance/uploads/...).
    path: Mapped[str] = mapped_column(sa.String(1024))
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[ImportStatus] = mapped_column(
        enum_type(ImportStatus), default=ImportStatus.UPLOADED
    )
    delimiter: Mapped[str] = mapped_column(sa.String(1), default=",")
    # CSV column -> field ("email", "first_name", "timezone", "attributes.city", "list") .
    mapping: Mapped[dict] = mapped_column(JSONType, default=dict)
    duplicate_policy: Mapped[DuplicatePolicy] = mapped_column(
        enum_type(DuplicatePolicy), default=DuplicatePolicy.UPDATE
    )
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lists.id", ondelete="SET NULL"))
    total_rows: Mapped[int | None] = mapped_column()
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    invalid_count: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportProblem(ProjectScoped, Base):
    __tablename__ = "import_problems"
    __table_args__ = (sa.Index(None, "import_id", "line"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(255))
    raw: Mapped[str | None] = mapped_column(sa.Text)
