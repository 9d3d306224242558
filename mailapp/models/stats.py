"""Report aggregates beside DailyStat: the first hours of a campaign, and its breakdowns."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, BigIntPK, ProjectScoped, UTCDateTime, enum_type
from mailapp.models.event import EventType


class HourlyStat(ProjectScoped, Base):
    """Event counts per hour, kept only for a campaign's first 48 hours after launch.

    The report draws those hours hourly and the rest daily (from DailyStat), so this stays
    at most 48 rows per campaign, type and human/machine flag.
    """

    __tablename__ = "hourly_stats"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "campaign_id", "hour", "type", "is_machine"),
    )
    project_id_indexed = False  # the unique constraint leads with it

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[EventType] = mapped_column(enum_type(EventType))
    is_machine: Mapped[bool] = mapped_column(default=False)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CampaignBreakdown(ProjectScoped, Base):
    """A campaign's human events by recipient domain, mail client or device.

    `dimension` is "domain", "client" or "device"; `value` what the address or the user
    agent told. Rows per campaign stay few (distinct domains, clients, devices).
    """

    __tablename__ = "campaign_breakdowns"
    __table_args__ = (
        sa.PrimaryKeyConstraint("project_id", "campaign_id", "dimension", "value", "type"),
    )
    project_id_indexed = False  # the primary key leads with it

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    dimension: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[EventType] = mapped_column(enum_type(EventType))
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
