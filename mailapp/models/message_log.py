"""What the transactional activity log and dashboard read beside Message: its tags, each
SMTP attempt with its reply, and hourly counts per template and per tag."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mailapp.models.base import Base, BigIntPK, ProjectScoped, UTCDateTime, utcnow


class MessageTag(ProjectScoped, Base):
    """A tag the API caller gave a message (`password-reset`, `receipt`), a few per message."""

    __tablename__ = "message_tags"
    __table_args__ = (sa.Index(None, "project_id", "tag", "message_id"),)
    project_id_indexed = False  # the index above leads with it

    message_id: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class MessageAttempt(ProjectScoped, Base):
    """One hand-over of a message to a mail server, and what that server answered."""

    __tablename__ = "message_attempts"
    __table_args__ = (sa.Index(None, "project_id", "message_id"),)
    project_id_indexed = False

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("messages.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # sent, deferred, failed, unknown
    reply: Mapped[str | None] = mapped_column(sa.Text)


class MessageStat(ProjectScoped, Base):
    """Transactional counts per hour, for the whole project, a template or a tag.

    `dimension` is "all" (value ""), "template" (value the template id, "" for inline
    content) or "tag"; `metric` is an event type ("sent", "open", "machine_open",
    "unique_open" ...) or a latency bucket ("latency_le_1000": accepted by the API to
    accepted by a mail server within 1 s). Days are sums of hours.
    """

    __tablename__ = "message_stats"
    __table_args__ = (
        sa.PrimaryKeyConstraint("project_id", "dimension", "value", "hour", "metric"),
    )
    project_id_indexed = False  # the primary key leads with it

    dimension: Mapped[str] = mapped_column(sa.String(8))
    value: Mapped[str] = mapped_column(sa.String(64))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    metric: Mapped[str] = mapped_column(sa.String(24))
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
