"""Templates and their versions: draft -> review -> published, rollback, all audited.

A version is checked when it is saved (content.submission): what is stored is the sanitized,
CSS-inlined HTML, so what an author sees after saving is what is sent; a version's parts
never change once it leaves draft.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from mailapp.access.audit import Actor, record_audit
from mailapp.access.grants import actor_has
from mailapp.access.permissions import Permission
from mailapp.content.brand import brand_for
from mailapp.content.submission import Content, prepare_content, starter_content
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Project, Template, TemplateKind, TemplateVersion, VersionStatus
from mailapp.models.base import utcnow


def get_template(project: Project, template_id: int) -> Template:
    template = db.session.scalar(
        sa.select(Template).where(Template.id == template_id, Template.project_id == project.id)
    )
    if template is None:
        raise NotFound(f"no template {template_id}")
    return template


def project_templates(project: Project) -> list[Template]:
    """The project's templates, oldest first, with their versions loaded."""
    return list(
        db.session.scalars(
            sa.select(Template)
            .where(Template.project_id == project.id)
            .order_by(Template.id)
            .options(selectinload(Template.versions))
        )
    )


def get_version(project: Project, version_id: int) -> TemplateVersion:
    version = db.session.scalar(
        sa.select(TemplateVersion).where(
            TemplateVersion.id == version_id, TemplateVersion.project_id == project.id
        )
    )
    if version is None:
        raise NotFound(f"no template version {version_id}")
    return version


def create_template(
    project: Project,
    name: str,
    content: Content | None = None,
    *,
    actor: Actor,
    kind: TemplateKind = TemplateKind.MARKETING,
    comment: str | None = None,
    starter: str | None = None,
) -> Template:
    """A new template with its first version as a draft (from `content`, else a starter's)."""
    name = name.strip()
    if not name:
        raise ServiceError("a template needs a name")
    if content is None:
        content = starter_content(kind, starter)
    prepared = prepare_content(content, brand_for(project))
    template = Template(project_id=project.id, name=name, kind=kind)
    db.session.add(template)
    db.session.flush()
    version = _new_version(template, prepared, actor, comment, number=1)
    record_audit(
        actor,
        "template.create",
        project_id=project.id,
        obj=template,
        context={"name": name, "kind": str(kind), "version": version.number},
    )
    db.session.commit()
    return template


def save_draft(
    project: Project,
    template_id: int,
    content: Content,
    *,
    actor: Actor,
    comment: str | None = None,
) -> TemplateVersion:
    """Save content as the template's draft: the open draft is updated, else a new one made."""
    template = get_template(project, template_id)
    prepared = prepare_content(content, brand_for(project))
    latest = _latest(template)
    if latest is not None and latest.status == VersionStatus.DRAFT:
        version = latest
        _assign(version, prepared)
        version.author_id = actor.user_id or version.author_id
        version.comment = comment if comment is not None else version.comment
    else:
        number = (latest.number if latest else 0) + 1
        version = _new_version(template, prepared, actor, comment, number=number)
    record_audit(
        actor,
        "template.save",
        project_id=project.id,
        obj=version,
        context={"template_id": template.id, "version": version.number},
    )
    db.session.commit()
    return version


def submit_for_review(
    project: Project, version_id: int, *, actor: Actor, comment: str | None = None
) -> TemplateVersion:
    """draft -> review."""
    return _move(
        project,
        version_id,
        VersionStatus.DRAFT,
        VersionStatus.REVIEW,
        actor,
        comment,
        "template.submit",
    )


def return_to_draft(
    project: Project, version_id: int, *, actor: Actor, comment: str | None = None
) -> TemplateVersion:
    """review -> draft, with the reviewer's comment."""
    return _move(
        project,
        version_id,
        VersionStatus.REVIEW,
        VersionStatus.DRAFT,
        actor,
        comment,
        "template.return",
    )


def publish_version(
    project: Project, version_id: int, *, actor: Actor, comment: str | None = None
) -> TemplateVersion:
    """review -> published; the version published before is archived."""
    version = get_version(project, version_id)
    if version.status != VersionStatus.REVIEW:
        raise ServiceError(
            f"only a version in review can be published (v{version.number} is {version.status})"
        )
    _check_reviewer(project, version, actor)
    _publish(version, actor, comment, "template.publish")
    return version


def rollback(
    project: Project, version_id: int, *, actor: Actor, comment: str | None = None
) -> TemplateVersion:
    """Publish an earlier, archived version again."""
    version = get_version(project, version_id)
    if version.status != VersionStatus.ARCHIVED:
        raise ServiceError(
            f"only an earlier published version can be restored (v{version.number}"
            f" is {version.status})"
        )
    if not actor_has(project.id, actor, Permission.TEMPLATES_PUBLISH):
        raise ServiceError(
            f"restoring a version needs the {Permission.TEMPLATES_PUBLISH} permission"
        )
    _publish(version, actor, comment, "template.rollback")
    return version


def _check_reviewer(project: Project, version: TemplateVersion, actor: Actor) -> None:
    """Publishing is a review: it needs the permission, and (unless the project allows
    self-approval) someone other than the draft's author."""
    if not actor_has(project.id, actor, Permission.TEMPLATES_PUBLISH):
        raise ServiceError(
            f"publishing needs the {Permission.TEMPLATES_PUBLISH} permission: ask an owner or "
            "admin to review this version"
        )
    self_approval = (project.settings or {}).get("allow_self_approval", False)
    if actor.api_key_id is not None and version.author_id is None and not self_approval:
        # A key cannot be told apart from the key that wrote the version: a person reviews.
        raise ServiceError(
            f"v{version.number} was not written by a person (but through the API): a person "
            "must review and publish it (or allow self-approval in Settings → Sending rules)"
        )
    if version.author_id is not None and version.author_id == actor.user_id and not self_approval:
        raise ServiceError(
            f"v{version.number} is your own draft: another reviewer must publish it (or allow "
            "self-approval in Settings → Sending rules)"
        )


def _publish(version: TemplateVersion, actor: Actor, comment: str | None, action: str) -> None:
    template = version.template
    previous = template.published_version
    if previous is not None and previous.id != version.id:
        previous.status = VersionStatus.ARCHIVED
    version.status = VersionStatus.PUBLISHED
    version.published_at = utcnow()
    if comment:
        version.comment = comment
    template.published_version_id = version.id
    context: dict[str, Any] = {"template_id": template.id, "version": version.number}
    if previous is not None:
        context["replaced_version"] = previous.number
    record_audit(actor, action, project_id=version.project_id, obj=version, context=context)
    db.session.commit()


def _move(
    project: Project,
    version_id: int,
    source: VersionStatus,
    target: VersionStatus,
    actor: Actor,
    comment: str | None,
    action: str,
) -> TemplateVersion:
    version = get_version(project, version_id)
    if version.status != source:
        raise ServiceError(f"v{version.number} is {version.status}, not {source}")
    version.status = target
    if comment:
        version.comment = comment
    record_audit(
        actor,
        action,
        project_id=project.id,
        obj=version,
        context={"template_id": version.template_id, "version": version.number},
    )
    db.session.commit()
    return version


def _latest(template: Template) -> TemplateVersion | None:
    return db.session.scalar(
        sa.select(TemplateVersion)
        .where(TemplateVersion.template_id == template.id)
        .order_by(TemplateVersion.number.desc())
        .limit(1)
    )


def _new_version(
    template: Template, content: Content, actor: Actor, comment: str | None, *, number: int
) -> TemplateVersion:
    version = TemplateVersion(
        project_id=template.project_id,
        template_id=template.id,
        number=number,
        status=VersionStatus.DRAFT,
        author_id=actor.user_id,
        comment=comment,
    )
    _assign(version, content)
    db.session.add(version)
    db.session.flush()
    return version


def _assign(version: TemplateVersion, content: Content) -> None:
    version.subject = content.subject
    version.preheader = content.preheader
    version.html = content.html
    version.text = content.text
    version.locale = content.locale
    version.locale_variants = content.locale_variants
    version.document = content.document
