"""A sender's transports: SMTP relays and ESP APIs tried in weighted order, with failover."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, EncryptedText, ProjectScoped, TimestampMixin


class SenderTransport(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "sender_transports"
    __table_args__ = (sa.CheckConstraint("weight >= 0", name="weight_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[int] = mapped_column(
        sa.ForeignKey("senders.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    # smtp://user:pass@host:587?starttls=1 or mailgun+https://api:KEY@api.mailgun.net/v3/dom;
    # write-only: pages and answers show the kind and host, never the URL.
    url: Mapped[str] = mapped_column(EncryptedText)
    # Share of the mail among the weighted ones; 0 = a backup, used when they all fail.
    weight: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.name
