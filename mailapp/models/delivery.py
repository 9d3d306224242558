"""The outbox: one Delivery per (campaign, contact), and one-off transactional messages."""

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


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    # Was in the hands of a worker that died: it may or may not have been handed over.
    UNKNOWN = "unknown"


FINAL_STATUSES = frozenset(
    {DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SUPPRESSED, DeliveryStatus.UNKNOWN}
)


class Delivery(ProjectScoped, Base):
    """The idempotency key of sending: unique per (campaign, contact, round).

    `round` is 0 for campaigns; a journey's backing campaign sends once per enrollment
    round, so a contact who re-enters a journey gets the step's mail again."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "contact_id", "round"),
        sa.Index(None, "status", "scheduled_at"),
        sa.Index(None, "campaign_id", "status"),
        sa.Index(None, "contact_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    variant: Mapped[str | None] = mapped_column(sa.String(8))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus), default=DeliveryStatus.QUEUED
    )
    # Our own counter: Dramatiq's retry count lives in the message and dies with a worker.
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first 4xx: the queue lifetime (delivery.retries) counts from here.
    first_deferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reply: Mapped[str | None] = mapped_column(sa.Text)
    # Why a row was suppressed or failed without an SMTP reply (frequency cap, quiet hours...).
    reason: Mapped[str | None] = mapped_column(sa.String(64))
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(TimestampMixin, ProjectScoped, Base):
    """A transactional message sent through the API, one recipient each."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "idempotency_key"),
        sa.Index(None, "status", "scheduled_at"),
        # The activity log pages newest first by id, within a project and each filter.
        sa.Index(None, "project_id", "id"),
        sa.Index(None, "project_id", "recipient_key", "id"),
        sa.Index(None, "project_id", "status", "id"),
        sa.Index(None, "project_id", "template_id", "id"),
        sa.Index(None, "project_id", "sender_id", "id"),
        sa.Index(None, "project_id", "created_at"),
        sa.Index(None, "message_id"),
        sa.Index(None, "resend_of_id"),  # a message's page names its resends
    )
    project_id_indexed = False  # the (project_id, ...) indexes above lead with it

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    # sha256 of the request a key was first used for: a replay must ask for the same.
    request_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.String(320))
    # The address as searched: trimmed and lower-cased (mail still goes to `recipient`).
    recipient_key: Mapped[str | None] = mapped_column(sa.String(320))
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL")
    )
    sender_id: Mapped[int | None] = mapped_column(sa.ForeignKey("senders.id", ondelete="SET NULL"))
    template_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("template_versions.id", ondelete="SET NULL")
    )
    # The template of that version, kept so the log filters and the dashboard group by it.
    template_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("templates.id", ondelete="SET NULL")
    )
    # A resend is a new message pointing at the one it repeats.
    resend_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL")
    )
    # Template data, or inline {"subject", "html", "text"} content.
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    content: Mapped[dict | None] = mapped_column(JSONType)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus), default=DeliveryStatus.QUEUED
    )
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first 4xx: the queue lifetime (delivery.retries) counts from here.
    first_deferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reply: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.String(64))
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    # Opt-in, like Postmark's TrackOpens: a pixel in the HTML (the project's tracking mode
    # still applies to the hits).
    track_opens: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # First human open and click: set once, so the dashboard counts unique ones.
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
