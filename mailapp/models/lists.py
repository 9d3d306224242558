"""Lists and memberships: per-list status, single or double opt-in."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, ProjectScoped, TimestampMixin, UTCDateTime, enum_type


class OptIn(enum.StrEnum):
    SINGLE = "single"
    DOUBLE = "double"


class List(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    opt_in: Mapped[OptIn] = mapped_column(enum_type(OptIn), default=OptIn.SINGLE)
    is_public: Mapped[bool] = mapped_column(default=False)
    # Names the hosted subscribe form (/subscribe/<token>) without exposing the id.
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    consent_text: Mapped[str | None] = mapped_column(sa.Text)
    consent_version: Mapped[str | None] = mapped_column(sa.String(32))

    def __str__(self) -> str:
        return self.name


class MembershipStatus(enum.StrEnum):
    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class ListMembership(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "list_memberships"
    __table_args__ = (sa.Index(None, "contact_id"), sa.Index(None, "list_id", "status"))

    list_id: Mapped[int] = mapped_column(
        sa.ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[MembershipStatus] = mapped_column(
        enum_type(MembershipStatus), default=MembershipStatus.CONFIRMED
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
