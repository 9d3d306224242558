"""Contacts: one person per project, their tags and their consent ledger."""

from __future__ import annotations

import enum
import hashlib
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


class ContactStatus(enum.StrEnum):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    ERASED = "erased"


class Contact(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "email"),
        sa.Index(None, "project_id", "status"),
        sa.Index(None, "project_id", "created_at"),
        # The "enters a segment" journey trigger reads the contacts changed since its cursor.
        sa.Index(None, "project_id", "updated_at"),
    )
    project_id_indexed = False  # the four above lead with it

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # Normalized (trimmed, lower-cased whole: addresses match case-insensitively);
    # email_raw keeps the address as it was typed, for display.
    email: Mapped[str] = mapped_column(sa.String(320))
    email_raw: Mapped[str] = mapped_column(sa.String(320))
    # sha256 of the address, the key the suppression list matches on. The database keeps it
    # (a trigger on every insert and on every change of email, whatever wrote the row: the
    # ORM, a bulk upsert, an import's INSERT ... SELECT), so an audience's suppression check
    # compares stored values instead of hashing every contact on every reading.
    email_hash: Mapped[str | None] = mapped_column(
        sa.String(64), server_default=sa.FetchedValue(), server_onupdate=sa.FetchedValue()
    )
    status: Mapped[ContactStatus] = mapped_column(
        enum_type(ContactStatus), default=ContactStatus.ACTIVE
    )
    first_name: Mapped[str | None] = mapped_column(sa.String(200))
    last_name: Mapped[str | None] = mapped_column(sa.String(200))
    attributes: Mapped[dict] = mapped_column(JSONType, default=dict)
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    source: Mapped[str | None] = mapped_column(sa.String(64))
    # Quality labels; a quarantined contact is left out of campaigns unless one opts in.
    is_role_address: Mapped[bool] = mapped_column(default=False)
    is_disposable: Mapped[bool] = mapped_column(default=False)
    quarantined: Mapped[bool] = mapped_column(default=False)
    soft_bounces: Mapped[int] = mapped_column(default=0)
    # Engagement, kept current by the event writer so segments need not scan events.
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __str__(self) -> str:
        return self.email


# SQLite has no sha256(): the triggers call this function, registered on every connection.
SQLITE_HASH_FUNCTION = "mailapp_email_hash"


def address_hash(email: str | None) -> str | None:
    """sha256 hex of the trimmed, lower-cased address (what suppression stores)."""
    if email is None:
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@sa.event.listens_for(sa.Engine, "connect")
def _register_sqlite_hash(dbapi_connection, connection_record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.create_function(SQLITE_HASH_FUNCTION, 1, address_hash, deterministic=True)


class ContactTag(ProjectScoped, Base):
    __tablename__ = "contact_tags"
    __table_args__ = (
        sa.Index(None, "project_id", "tag"),
        # The "tag added" journey trigger reads the tags given since its cursor.
        sa.Index(None, "project_id", "created_at"),
    )

    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    # When the tag was given (NULL only for tags older than revision s11_0005's time).
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRecord(TimestampMixin, ProjectScoped, Base):
    """Append-only evidence of consent given or withdrawn."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lists.id", ondelete="SET NULL"))
    # The list's name when the record was written: the evidence names it after a deletion.
    list_name: Mapped[str | None] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(64))
    form_version: Mapped[str | None] = mapped_column(sa.String(32))
    consent_text_version: Mapped[str | None] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
