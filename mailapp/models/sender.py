"""Sending identities: From address, domains, DKIM key, warm-up and rate limits."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailapp.models.base import Base, EncryptedText, JSONType, ProjectScoped, TimestampMixin
from mailapp.models.sender_transport import SenderTransport


class Sender(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    from_name: Mapped[str] = mapped_column(sa.String(200))
    from_email: Mapped[str] = mapped_column(sa.String(320))
    reply_to: Mapped[str | None] = mapped_column(sa.String(320))
    domain: Mapped[str] = mapped_column(sa.String(253))
    # VERP Return-Path domain: bounces+<token>@<bounce_domain>.
    bounce_domain: Mapped[str | None] = mapped_column(sa.String(253))
    # Links, the open pixel and the unsubscribe page on the sender's own host name (a CNAME
    # to us, e.g. links.example.com) instead of BASE_URL's; None = BASE_URL.
    tracking_domain: Mapped[str | None] = mapped_column(sa.String(253))
    dkim_selector: Mapped[str | None] = mapped_column(sa.String(63))
    dkim_private_key: Mapped[str | None] = mapped_column(EncryptedText)
    # SPF/DKIM/DMARC check results with the time they were checked.
    verification: Mapped[dict] = mapped_column(JSONType, default=dict)
    # {"start": "2026-01-01", "daily_caps": [50, 100, 500, ...]}; empty = no warm-up.
    warmup_plan: Mapped[dict] = mapped_column(JSONType, default=dict)
    rate_per_second: Mapped[int | None] = mapped_column()
    rate_per_hour: Mapped[int | None] = mapped_column()
    rate_per_day: Mapped[int | None] = mapped_column()
    # The single transport of old (smtp://...), used only while `transports` is empty;
    # migration s11_0001 moved every one into a SenderTransport. None = SMTP_URL.
    transport_url: Mapped[str | None] = mapped_column(EncryptedText)

    transports: Mapped[list[SenderTransport]] = relationship(
        cascade="all, delete-orphan",
        order_by="SenderTransport.position, SenderTransport.id",
        passive_deletes=True,
    )

    def __str__(self) -> str:
        return f"{self.from_name} <{self.from_email}>"
