"""What the visual editor's page and endpoints show: tags, assets, brand, extra checks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mailapp.audience.segments.choices import attribute_choices
from mailapp.content.assets import asset_url, list_assets
from mailapp.content.brand import brand_for
from mailapp.delivery.checklist import Check
from mailapp.extensions import db
from mailapp.models import Contact, Sender

PREVIEW_TEXT_CHARS = (40, 130)  # what inboxes show after the subject, phone to desktop
CONTACT_FIELDS = [
    ("first_name", "First name", "there"),
    ("last_name", "Last name", ""),
    ("email", "Email address", ""),
]


def editor_checks(preheader: str) -> list[Check]:
    """What only the editor knows: alt text (a document without it is not rendered at all)
    and the preview text's length as a recipient reads it."""
    length = len(" ".join((preheader or "").split()))
    low, high = PREVIEW_TEXT_CHARS
    if not length:
        text = Check("preview_text", False, False, "empty: inboxes show the first words instead")
    elif not low <= length <= high:
        text = Check(
            "preview_text",
            False,
            False,
            f"{length} characters as a recipient reads it; inboxes show {low} to {high}",
        )
    else:
        text = Check("preview_text", True, False, f"{length} characters as a recipient reads it")
    return [
        Check("alt_text", True, False, "every image has alt text or is marked decorative"),
        text,
    ]


def contact(project: Any, contact_id: Any) -> Contact | None:
    """The contact picked for the preview, if it is one of this project's."""
    if not isinstance(contact_id, int):
        return None
    return db.session.scalar(
        sa.select(Contact).where(Contact.id == contact_id, Contact.project_id == project.id)
    )


def sender(project: Any, sender_id: Any) -> Sender | None:
    """The sender the checks are made with: the one picked, else the project's first."""
    senders = db.session.scalars(
        sa.select(Sender).where(Sender.project_id == project.id).order_by(Sender.id)
    ).all()
    return next((s for s in senders if s.id == sender_id), senders[0] if senders else None)


def version_info(version: Any) -> dict[str, Any] | None:
    """The saved version the page names, as JSON."""
    if version is None:
        return None
    return {"id": version.id, "number": version.number, "status": str(version.status)}


def asset_info(asset: Any) -> dict[str, Any]:
    """An asset as the image block's library shows it."""
    return {
        "id": asset.id,
        "url": asset_url(asset),
        "filename": asset.filename,
        "width": asset.width,
        "size": asset.size,
    }


def assets(project: Any) -> list[dict[str, Any]]:
    """The project's images, newest first."""
    return [asset_info(a) for a in list_assets(project) if a.content_type.startswith("image/")]


def brand(project: Any) -> dict[str, Any]:
    """What the page needs of the brand: the width limit and the default colour."""
    brand = brand_for(project)
    return {"width": brand.width, "primary": brand.primary}


def tags(project_id: int) -> list[dict[str, str]]:
    """The personalization tags the picker offers, each with a safe default."""
    tags = [
        {"label": label, "tag": f'{{{{ contact.{name} | default("{default}") }}}}'}
        for name, label, default in CONTACT_FIELDS
    ]
    tags += [
        {
            "label": a["key"].replace("_", " ").capitalize(),
            "tag": f'{{{{ contact.attributes.{a["key"]} | default("") }}}}',
        }
        for a in attribute_choices(project_id)
        if a["key"].isidentifier()  # a key with spaces or dashes is no Jinja attribute name
    ]
    return tags
