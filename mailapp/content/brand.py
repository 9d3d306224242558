"""A project's brand: the colours, font, logo and width visual templates are compiled with.

Kept in `Project.settings["brand"]` (no table of its own); a project that never set one gets
DEFAULT_BRAND. Applied when a document is compiled (content.visual), so changing the brand
changes the templates saved after it, never a version already saved or sent.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.validation import FieldChecker
from mailapp.extensions import db
from mailapp.models import Asset, Project

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
URL_RE = re.compile(r"^https?://[^\s\"'<>]+$")
# Web-safe stacks only: a web font would need a <link> the sanitizer removes anyway.
FONTS: dict[str, str] = {
    "helvetica": "Helvetica, Arial, sans-serif",
    "verdana": "Verdana, Geneva, sans-serif",
    "trebuchet": "'Trebuchet MS', Helvetica, sans-serif",
    "georgia": "Georgia, 'Times New Roman', serif",
    "times": "'Times New Roman', Times, serif",
    "courier": "'Courier New', Courier, monospace",
}
WIDTH_RANGE = (480, 720)
COLORS = ("primary", "text", "background", "content_background")


@dataclass(frozen=True)
class Brand:
    """What a compiled visual template looks like: colours, font key, logo, content width."""

    primary: str = "#1a5fb4"
    text: str = "#222222"
    background: str = "#f4f4f4"
    content_background: str = "#ffffff"
    font: str = "helvetica"
    logo_url: str | None = None
    logo_asset_id: int | None = None
    width: int = 600

    @property
    def font_stack(self) -> str:
        """The CSS font-family list for the brand's font."""
        return FONTS.get(self.font, FONTS["helvetica"])

    def as_dict(self) -> dict[str, Any]:
        """The brand as stored and as the API shows it."""
        return asdict(self)


DEFAULT_BRAND = Brand()


def brand_for(project: Project) -> Brand:
    """The project's brand, with the default for anything it never set."""
    stored = (project.settings or {}).get("brand") or {}
    known = {f.name for f in fields(Brand)}
    return Brand(**{k: v for k, v in stored.items() if k in known})


def update_brand(project: Project, values: dict[str, Any], *, actor: Actor) -> Brand:
    """Validate and save some brand fields (the others keep their value); audited."""
    current = brand_for(project).as_dict()
    wanted = _parse(project, values)
    changed = {k: {"old": current[k], "new": v} for k, v in wanted.items() if current[k] != v}
    if changed:
        project.settings = {**(project.settings or {}), "brand": {**current, **wanted}}
        record_audit(
            actor, "project.brand", project_id=project.id, obj=project, context={"changes": changed}
        )
    db.session.commit()
    return brand_for(project)


def _parse(project: Project, values: dict[str, Any]) -> dict[str, Any]:
    check = FieldChecker()
    wanted: dict[str, Any] = {}
    for key, raw in values.items():
        if key in COLORS:
            if isinstance(raw, str) and COLOR_RE.match(raw.strip()):
                wanted[key] = raw.strip().lower()
            else:
                check.fail(key, f"a colour as #rrggbb (e.g. #1a5fb4), not {raw!r}")
        elif key == "font":
            wanted[key] = check.choice(key, raw, tuple(FONTS))
        elif key == "width":
            wanted[key] = check.integer(key, raw, *WIDTH_RANGE, optional=False)
        elif key == "logo_url":
            if raw in (None, ""):
                wanted[key] = None
            elif isinstance(raw, str) and URL_RE.match(raw.strip()):
                wanted[key] = raw.strip()
            else:
                check.fail(key, "an http(s) address of an image")
        elif key == "logo_asset_id":
            wanted[key] = _asset_id(project, raw, check)
        else:
            check.fail(key, "not a brand setting")
    check.raise_if_any()
    return wanted


def _asset_id(project: Project, raw: Any, check: FieldChecker) -> int | None:
    if raw is None:
        return None
    found = (
        db.session.scalar(
            sa.select(Asset.id).where(Asset.id == raw, Asset.project_id == project.id)
        )
        if isinstance(raw, int) and not isinstance(raw, bool)
        else None
    )
    if found is None:
        check.fail("logo_asset_id", f"no image {raw!r} in this project's assets")
    return found
