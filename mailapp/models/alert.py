"""Alerts to a project's owners: what went wrong, and whether the mail and webhook went out."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import (
    Base,
    BigIntPK,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    enum_type,
)


class AlertKind(enum.StrEnum):
    CAMPAIGN_PAUSED = "campaign_paused"
    BOUNCE_RATE = "bounce_rate"
    COMPLAINT_RATE = "complaint_rate"
    QUEUE_GROWING = "queue_growing"
    WORKER_SILENT = "worker_silent"
    SCHEDULER_SILENT = "scheduler_silent"
    WEBHOOKS_FAILING = "webhooks_failing"
    DNS_WORSE = "dns_worse"


class AlertMailState(enum.StrEnum):
    PENDING = "pending"  # waiting for the worker
    SENDING = "sending"  # claimed: handed to the transport at most once
    SENT = "sent"
    FAILED = "failed"  # refused, or no way to send (the detail says which)
    NO_RECIPIENTS = "no_recipients"


class Alert(TimestampMixin, ProjectScoped, Base):
    """One alert raised for one project; the history the Alerts page lists."""

    __tablename__ = "alerts"
    # Dedupe looks up the latest alert of a kind and subject; the page lists by time.
    __table_args__ = (sa.Index(None, "project_id", "kind", "subject", "created_at"),)
    project_id_indexed = False

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(enum_type(AlertKind))
    # What the alert is about, e.g. "campaign:12", "queue:sending": the dedupe key with kind.
    subject: Mapped[str] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.String(500))
    # The back-office path to act on it (made absolute with BASE_URL in the mail).
    link: Mapped[str] = mapped_column(sa.String(500))
    mail_state: Mapped[AlertMailState] = mapped_column(
        enum_type(AlertMailState), default=AlertMailState.PENDING
    )
    # Plain words: recipients reached, the server's reply, or why nothing could be sent.
    mail_detail: Mapped[str | None] = mapped_column(sa.Text)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Webhook endpoints the alert.raised event was queued for (0: none subscribed).
    webhooks_queued: Mapped[int] = mapped_column(default=0)
