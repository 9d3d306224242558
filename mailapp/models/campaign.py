"""Campaigns, their A/B variants and their tracked links."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailapp.models.base import (
    Base,
    JSONType,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    enum_type,
)


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class ScheduleMode(enum.StrEnum):
    NOW = "now"
    AT = "at"  # one instant for everyone
    LOCAL_TIME = "local_time"  # a wall-clock time in each contact's zone


class Campaign(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (sa.Index(None, "project_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[CampaignStatus] = mapped_column(
        enum_type(CampaignStatus), default=CampaignStatus.DRAFT
    )
    sender_id: Mapped[int | None] = mapped_column(sa.ForeignKey("senders.id", ondelete="SET NULL"))
    template_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("templates.id", ondelete="SET NULL")
    )
    # {"lists": [ids], "segment_id": id | None, "include_quarantined": bool}
    audience: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Frozen at launch: content, sender and audience as they were then.
    snapshot: Mapped[dict | None] = mapped_column(JSONType)
    schedule_mode: Mapped[ScheduleMode] = mapped_column(
        enum_type(ScheduleMode), default=ScheduleMode.NOW
    )
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    local_send_time: Mapped[str | None] = mapped_column(sa.String(5))  # "09:30"
    # {"days": [0..6], "start": "09:00", "end": "18:00", "timezone": "Europe/Berlin"}
    send_window: Mapped[dict | None] = mapped_column(JSONType)
    track_opens: Mapped[bool] = mapped_column(default=True)
    track_clicks: Mapped[bool] = mapped_column(default=True)
    # {"utm_source": "mailapp", "utm_medium": "email", "utm_campaign": "{{ campaign.slug }}"}
    utm: Mapped[dict] = mapped_column(JSONType, default=dict)
    # {"test_share": 0.2, "metric": "clicks"|"opens", "decide_after_minutes": 240}
    ab_test: Mapped[dict | None] = mapped_column(JSONType)
    # {"canary_share": 0.05, "max_bounce_rate": 0.05, "max_complaint_rate": 0.003}
    guardrails: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # A journey's email step sends through a backing campaign of the version it belongs to.
    journey_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journey_versions.id", ondelete="SET NULL"), index=True
    )
    journey_step: Mapped[str | None] = mapped_column(sa.String(64))

    variants: Mapped[list[CampaignVariant]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignVariant.key"
    )

    def __str__(self) -> str:
        return self.name


class CampaignVariant(ProjectScoped, Base):
    """One arm of an A/B test: its own subject and/or content version."""

    __tablename__ = "campaign_variants"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(8))  # "A", "B", ...
    subject: Mapped[str | None] = mapped_column(sa.String(998))
    template_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("template_versions.id", ondelete="SET NULL")
    )
    is_winner: Mapped[bool] = mapped_column(default=False)

    campaign: Mapped[Campaign] = relationship(back_populates="variants")


class Link(ProjectScoped, Base):
    """A link of a campaign's content; click tokens name it, never a URL."""

    __tablename__ = "links"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    url: Mapped[str] = mapped_column(sa.Text)
