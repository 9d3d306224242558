"""Content: templates with reviewed, versioned bodies, and the asset library."""

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


class TemplateKind(enum.StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class Template(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[TemplateKind] = mapped_column(
        enum_type(TemplateKind), default=TemplateKind.MARKETING
    )
    published_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("template_versions.id", use_alter=True, ondelete="SET NULL")
    )

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template",
        foreign_keys="TemplateVersion.template_id",
        order_by="TemplateVersion.number",
    )
    published_version: Mapped[TemplateVersion | None] = relationship(
        foreign_keys=[published_version_id], post_update=True
    )

    def __str__(self) -> str:
        return self.name


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class TemplateVersion(TimestampMixin, ProjectScoped, Base):
    __tablename__ = "template_versions"
    __table_args__ = (sa.UniqueConstraint("template_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        sa.ForeignKey("templates.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    status: Mapped[VersionStatus] = mapped_column(
        enum_type(VersionStatus), default=VersionStatus.DRAFT
    )
    subject: Mapped[str] = mapped_column(sa.String(998))
    preheader: Mapped[str | None] = mapped_column(sa.String(500))
    html: Mapped[str] = mapped_column(sa.Text)
    text: Mapped[str | None] = mapped_column(sa.Text)
    locale: Mapped[str] = mapped_column(sa.String(16), default="en")
    # {"de": {"subject": ..., "preheader": ..., "html": ..., "text": ...}, ...}
    locale_variants: Mapped[dict] = mapped_column(JSONType, default=dict)
    # The visual editor's document (content.blocks); NULL for a template written as HTML.
    # `html` then holds what it compiled to when saved, so sending never runs MJML.
    document: Mapped[dict | None] = mapped_column(JSONType)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    template: Mapped[Template] = relationship(back_populates="versions", foreign_keys=[template_id])

    def __str__(self) -> str:
        return f"v{self.number} ({self.status})"


class Asset(TimestampMixin, ProjectScoped, Base):
    """An uploaded image or file, served from an unguessable public URL."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column()
    storage_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    def __str__(self) -> str:
        return self.filename
