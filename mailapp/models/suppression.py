"""The suppression list: addresses never to be mailed, whatever else says so."""

from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, BigIntPK, ProjectScoped, TimestampMixin, enum_type


class SuppressionReason(enum.StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    ERASURE = "erasure"


class Suppression(TimestampMixin, ProjectScoped, Base):
    """An address that must never be mailed: overrides every list and segment.

    Matched by the hash of the normalized address, so an erased person stays suppressed
    after their address itself is gone.
    """

    __tablename__ = "suppressions"
    __table_args__ = (sa.UniqueConstraint("project_id", "email_hash"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    email: Mapped[str | None] = mapped_column(sa.String(320))
    email_hash: Mapped[str] = mapped_column(sa.String(64))
    reason: Mapped[SuppressionReason] = mapped_column(enum_type(SuppressionReason))
    source: Mapped[str | None] = mapped_column(sa.String(200))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    def __str__(self) -> str:
        return self.email or f"(erased) {self.email_hash[:12]}…"
