"""Turning a visual template into an HTML one: one way, for developers who take it over.

The new draft keeps the HTML the document compiled to (and each variant's), and no document:
from then on the template is edited as HTML; earlier visual versions stay as they were, and
a rollback to one of them brings its document back.
"""

from __future__ import annotations

from mailapp.access.audit import Actor, record_audit
from mailapp.content.submission import Content
from mailapp.content.templates import _latest, get_template, save_draft
from mailapp.errors import ServiceError
from mailapp.models import Project, TemplateVersion


def convert_to_html(project: Project, template_id: int, *, actor: Actor) -> TemplateVersion:
    """A draft whose HTML is the latest version's compiled HTML and whose document is NULL."""
    template = get_template(project, template_id)
    latest = _latest(template)
    variants = (latest.locale_variants or {}) if latest else {}
    if latest is None or (
        latest.document is None and not any("document" in v for v in variants.values())
    ):
        raise ServiceError(f"{template.name} is already an HTML template")
    content = Content(
        subject=latest.subject,
        html=latest.html,
        text=latest.text,
        preheader=latest.preheader,
        locale=latest.locale,
        locale_variants={
            locale: {k: v for k, v in parts.items() if k != "document"}
            for locale, parts in variants.items()
        },
    )
    record_audit(
        actor,
        "template.convert_to_html",
        project_id=project.id,
        obj=template,
        context={"template_id": template.id, "from_version": latest.number},
    )
    return save_draft(
        project, template_id, content, actor=actor, comment="Converted from the visual editor"
    )
