"""What happened to mail: raw events (purged after retention) and lasting aggregates."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import (
    Base,
    BigIntPK,
    JSONType,
    ProjectScoped,
    UTCDateTime,
    enum_type,
    utcnow,
)


class EventType(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    OPEN = "open"
    CLICK = "click"
    BOUNCE_HARD = "bounce_hard"
    BOUNCE_SOFT = "bounce_soft"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    UNKNOWN = "unknown"


class Event(ProjectScoped, Base):
    __tablename__ = "events"
    __table_args__ = (
        sa.Index(None, "project_id", "campaign_id", "type", "occurred_at"),
        sa.Index(None, "project_id", "occurred_at"),
        sa.Index(None, "contact_id", "occurred_at"),
        sa.Index(None, "message_id"),  # a transactional message's timeline
    )
    project_id_indexed = False  # the (project_id, ...) indexes above lead with it

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    type: Mapped[EventType] = mapped_column(enum_type(EventType))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    campaign_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL")
    )
    delivery_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL")
    )
    link_id: Mapped[int | None] = mapped_column(sa.ForeignKey("links.id", ondelete="SET NULL"))
    # Privacy proxies, prefetchers and link scanners: kept, reported apart from humans.
    is_machine: Mapped[bool] = mapped_column(default=False)
    # Bounce code and text, url, user agent class, provider ids ...
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    # An open's or click's key from the hit spool: a hit shipped or drained twice is one event.
    hit_key: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, unique=True)


class DailyStat(ProjectScoped, Base):
    """Event counts per day; dashboards read these, never raw events.

    campaign_id 0 stands for mail outside any campaign (transactional), so the
    uniqueness holds on both databases (NULLs would never collide).
    """

    __tablename__ = "daily_stats"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "day", "campaign_id", "type", "is_machine"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)
    campaign_id: Mapped[int] = mapped_column(default=0)
    type: Mapped[EventType] = mapped_column(enum_type(EventType))
    is_machine: Mapped[bool] = mapped_column(default=False)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CampaignEngagement(ProjectScoped, Base):
    """Per (campaign, contact) engagement, the source of unique opens and clicks."""

    __tablename__ = "campaign_engagement"

    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    opens: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)
    machine_opens: Mapped[int] = mapped_column(default=0)
    machine_clicks: Mapped[int] = mapped_column(default=0)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkStat(ProjectScoped, Base):
    """Clicks per link: the click map reads this, and it outlives raw-event retention."""

    __tablename__ = "link_stats"

    link_id: Mapped[int] = mapped_column(
        sa.ForeignKey("links.id", ondelete="CASCADE"), primary_key=True
    )
    clicks: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    machine_clicks: Mapped[int] = mapped_column(sa.BigInteger, default=0)
