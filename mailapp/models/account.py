"""Tenancy: an Account owns Projects; a Project is the tenant every row belongs to."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailapp.models.base import Base, JSONType, TimestampMixin, UTCDateTime


class Account(TimestampMixin, Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))

    projects: Mapped[list[Project]] = relationship(back_populates="account")

    def __str__(self) -> str:
        return self.name


class Project(TimestampMixin, Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Default zone for contacts without one, quiet hours and reports.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    postal_address: Mapped[str | None] = mapped_column(sa.Text)
    # Tracking mode, quiet hours, quotas, frequency cap: see access.projects.DEFAULT_SETTINGS.
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Emergency stop: while set, nothing of this project is dispatched.
    sending_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by an owner: every member signs in with a second factor (enrolling at sign-in).
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    account: Mapped[Account] = relationship(back_populates="projects")

    def __str__(self) -> str:
        return self.name
