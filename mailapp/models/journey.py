"""Journeys (automations): a draft, its frozen versions, enrollments and their step ledger,
the events contacts send, and the trigger scans' cursors."""

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
    utcnow,
)


class JourneyStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class Journey(TimestampMixin, ProjectScoped, Base):
    """A journey as edited: `trigger`, `graph` and `settings` are the draft."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[JourneyStatus] = mapped_column(
        enum_type(JourneyStatus), default=JourneyStatus.DRAFT
    )
    trigger: Mapped[dict] = mapped_column(JSONType, default=dict)
    graph: Mapped[dict] = mapped_column(JSONType, default=dict)
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    published_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journey_versions.id", use_alter=True, ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.name


class JourneyVersion(ProjectScoped, Base):
    """What publishing froze: contacts inside keep the version they entered."""

    __tablename__ = "journey_versions"
    __table_args__ = (sa.UniqueConstraint("journey_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(sa.ForeignKey("journeys.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    trigger: Mapped[dict] = mapped_column(JSONType, default=dict)
    graph: Mapped[dict] = mapped_column(JSONType, default=dict)
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"  # runs its current step at wake_at
    WAITING = "waiting"  # in a wait step: wakes at wake_at, or when its event arrives
    COMPLETED = "completed"
    GOAL = "goal"
    EXITED = "exited"


OPEN_ENROLLMENTS = (EnrollmentStatus.ACTIVE, EnrollmentStatus.WAITING)


class Enrollment(ProjectScoped, Base):
    """One pass of a contact through a journey; `seq` is the compare-and-set step counter."""

    __tablename__ = "enrollments"
    __table_args__ = (
        sa.UniqueConstraint("journey_id", "contact_id", "round"),
        sa.Index(None, "status", "wake_at"),
        sa.Index(None, "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    journey_id: Mapped[int] = mapped_column(sa.ForeignKey("journeys.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("journey_versions.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(default=1)
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_type(EnrollmentStatus), default=EnrollmentStatus.ACTIVE
    )
    step: Mapped[str | None] = mapped_column(sa.String(64))
    wake_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiting_for: Mapped[str | None] = mapped_column(sa.String(100))
    seq: Mapped[int] = mapped_column(default=0)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_reason: Mapped[str | None] = mapped_column(sa.String(200))


class EnrollmentStep(ProjectScoped, Base):
    """The at-most-once ledger: one row per step an enrollment took."""

    __tablename__ = "enrollment_steps"
    __table_args__ = (sa.UniqueConstraint("enrollment_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    step: Mapped[str] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(100))
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JourneyEvent(ProjectScoped, Base):
    """Something a contact did, posted by another system (`POST /api/v1/events`)."""

    __tablename__ = "journey_events"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "idempotency_key"),
        sa.Index(None, "contact_id", "occurred_at"),
    )
    project_id_indexed = False  # the unique key leads with it

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JourneyCursor(Base):
    """How far a trigger scan has read a durable table (installation-wide)."""

    __tablename__ = "journey_cursors"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    position: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
