"""Preview a visual document before it is saved, exactly as its saved version would render.

The document goes through the same preparation as `save_draft` (checked, compiled, sanitized,
CSS-inlined) into a version that is never added to the session, then through the template
preview's rendering for the chosen contact.
"""

from __future__ import annotations

from sqlalchemy.orm.attributes import set_committed_value

from mailapp.content.brand import brand_for
from mailapp.content.submission import Content, prepare_content
from mailapp.models import Project, Template, TemplateVersion, VersionStatus


def unsaved_version(project: Project, template: Template, content: Content) -> TemplateVersion:
    """The version `content` would be once saved, kept out of the session (never stored)."""
    prepared = prepare_content(content, brand_for(project))
    version = TemplateVersion(
        template_id=template.id,
        number=0,
        status=VersionStatus.DRAFT,
        subject=prepared.subject,
        preheader=prepared.preheader,
        html=prepared.html,
        text=prepared.text,
        locale=prepared.locale,
        locale_variants={},
        document=prepared.document,
    )
    # Without events: a backref would put the version in template.versions, and a flush
    # would then store it.
    set_committed_value(version, "template", template)
    return version
