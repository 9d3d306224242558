"""Segments: a stored rule evaluated at use, never a frozen list."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, JSONType, ProjectScoped, TimestampMixin, UTCDateTime


class Segment(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    # {"all": [...]} / {"any": [...]} / {"not": {...}} / a condition: see audience.segments.store.
    rule: Mapped[dict] = mapped_column(JSONType)
    last_count: Mapped[int | None] = mapped_column()
    last_counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __str__(self) -> str:
        return self.name


class SegmentMember(ProjectScoped, Base):
    """Who matched at the last count, so a re-count can say who entered and who left."""

    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
