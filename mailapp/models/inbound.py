"""Bounce and complaint mail as received, kept for diagnosis with its classification."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, BigIntPK, UTCDateTime, utcnow


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (sa.Index(None, "project_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # Known once the VERP token maps the report to a delivery; null for strays.
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(sa.String(32))  # pipe, maildir, mbox, imap, pop3
    raw: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # bounce_hard, bounce_soft, complaint, delay, auto_reply, unsubscribe, unknown, not_mail
    classification: Mapped[str] = mapped_column(sa.String(32))
    # Why it bounced: a BounceReason value (user_unknown, mailbox_full ...); null when none.
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    status_code: Mapped[str | None] = mapped_column(sa.String(16))
    diagnostic: Mapped[str | None] = mapped_column(sa.Text)
    recipients: Mapped[str | None] = mapped_column(sa.Text)
    delivery_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("deliveries.id", ondelete="SET NULL")
    )
