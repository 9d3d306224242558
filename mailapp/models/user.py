"""People who log in to the back office, their per-project roles, and API keys."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailapp.models.account import Project
from mailapp.models.base import (
    Base,
    EncryptedText,
    JSONType,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    enum_type,
)


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"
    SUPPORT = "support"


class User(UserMixin, TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Operators of the installation: may create projects and see every project.
    is_superuser: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An IANA zone the back office shows times in for this person; None: the project's.
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    # Two-factor sign-in (TOTP, RFC 6238): the shared secret encrypted at rest, when it was
    # turned on, and the last time step used, so one code cannot be replayed.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    def __str__(self) -> str:
        return self.email


class Membership(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("user_id", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_type(Role))

    user: Mapped[User] = relationship(back_populates="memberships")
    project: Mapped[Project] = relationship()


class ApiKey(TimestampMixin, ProjectScoped, Base):
    """An API credential: only a hash of the key is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # First characters of the key, to recognise it in lists; not enough to use it.
    prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
