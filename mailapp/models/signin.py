"""Sign-in state kept on the server: open back-office sessions and two-factor recovery codes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, TimestampMixin, UTCDateTime


class UserSession(TimestampMixin, Base):
    """One signed-in browser. The cookie holds a random token; only its SHA-256 is stored,
    so a copy of the database opens no session. A session ends (ended_at) at logout, and for
    every session of the person at a password change, role change, deactivation or
    "log out everywhere"; an ended session's cookie no longer opens anything."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # How the person proved who they are: "password" or "password+totp" / "password+recovery".
    method: Mapped[str] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(40))

    @property
    def two_factor(self) -> bool:
        return "+" in self.method


class RecoveryCode(TimestampMixin, Base):
    """A one-time two-factor recovery code: its SHA-256 only (the code is shown once)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
