"""Integration by HTTP: outbound webhooks to integrators, inbound ESP event webhooks."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import (
    Base,
    BigIntPK,
    EncryptedText,
    JSONType,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    enum_type,
)


class WebhookEndpoint(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2048))
    secret: Mapped[str] = mapped_column(EncryptedText)
    # Event types delivered; empty = all.
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # Only an operator may allow private or loopback targets.
    allow_private: Mapped[bool] = mapped_column(default=False)

    def __str__(self) -> str:
        return self.url


class AttemptStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookAttempt(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index(None, "endpoint_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[AttemptStatus] = mapped_column(
        enum_type(AttemptStatus), default=AttemptStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_code: Mapped[int | None] = mapped_column()
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EspProvider(enum.StrEnum):
    SES = "ses"
    SENDGRID = "sendgrid"
    MAILGUN = "mailgun"
    POSTMARK = "postmark"


class InboundWebhook(TimestampMixin, ProjectScoped, Base):
    """Where an ESP posts its events: /webhooks/<provider>/<token>."""

    __tablename__ = "inbound_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[EspProvider] = mapped_column(enum_type(EspProvider))
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Mailgun signing key, SendGrid public key, Postmark secret; SES needs none.
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    active: Mapped[bool] = mapped_column(default=True)


class ProviderEvent(ProjectScoped, Base):
    """A raw ESP event, kept as received; the provider's id makes replays harmless.

    Unique per project: another tenant posting the same id first must not turn this
    project's genuine event into a duplicate."""

    __tablename__ = "provider_events"
    __table_args__ = (sa.UniqueConstraint("project_id", "provider", "provider_event_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[EspProvider] = mapped_column(enum_type(EspProvider))
    provider_event_id: Mapped[str] = mapped_column(sa.String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raw: Mapped[dict] = mapped_column(JSONType)
    normalized_type: Mapped[str | None] = mapped_column(sa.String(32))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="SET NULL"))
