"""Lists and memberships: per-list status, single or double opt-in; members counted per
list and status by the database."""

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


class ListMemberCount(ProjectScoped, Base):
    """How many memberships a list has in each status.

    Kept by triggers on list_memberships (migration s9_0001), whatever writes the rows:
    imports, sign-ups, unsubscribes, erasure, merges. The lists page reads these rows instead
    of grouping a million memberships on every view. A list's rows go with the list.
    """

    __tablename__ = "list_member_counts"
    __table_args__ = (sa.PrimaryKeyConstraint("project_id", "list_id", "status"),)
    project_id_indexed = False  # the primary key leads with it

    list_id: Mapped[int] = mapped_column(sa.ForeignKey("lists.id", ondelete="CASCADE"))
    status: Mapped[MembershipStatus] = mapped_column(enum_type(MembershipStatus))
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
