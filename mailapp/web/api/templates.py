"""Templates API: templates and their versions, through the same review as the back office.

A version moves draft -> review -> published (the one before is archived); an archived one
can be restored. Content is checked as in the editor: a template that does not compile is
refused with 422 and `error.problems`, each with its part, line and reason. A visual
template sends its editor `document` instead of `html` (the server compiles it; a block that
does not validate is refused naming the block); it can be converted to HTML, one way.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.content.conversion import convert_to_html
from mailapp.content.submission import Content, TemplateRefused
from mailapp.content.templates import (
    create_template,
    get_template,
    get_version,
    project_templates,
    publish_version,
    return_to_draft,
    rollback,
    save_draft,
    submit_for_review,
)
from mailapp.extensions import db
from mailapp.models import Template, TemplateKind, TemplateVersion
from mailapp.web.api import ERROR, bp, document, require
from mailapp.web.api.template_schemas import (
    COMMENT_IN,
    CONTENT_IN,
    CREATE_IN,
    REFUSED,
    TEMPLATE_OUT,
    VERSION_OUT,
)

TAGS = ["templates"]


def _summary(version: TemplateVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "number": version.number,
        "status": version.status.value,
        "subject": version.subject,
        "locale": version.locale,
        "comment": version.comment,
        "published_at": version.published_at.isoformat() if version.published_at else None,
        "created_at": version.created_at.isoformat(),
    }


def version_json(version: TemplateVersion) -> dict[str, Any]:
    return {
        **_summary(version),
        "template_id": version.template_id,
        "preheader": version.preheader,
        "html": version.html,
        "text": version.text,
        "locale_variants": version.locale_variants or {},
        "document": version.document,
    }


def template_json(template: Template) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "kind": template.kind.value,
        "published_version_id": template.published_version_id,
        "versions": [_summary(v) for v in template.versions],
        "created_at": template.created_at.isoformat(),
    }


def _content(body: dict[str, Any]) -> Content:
    return Content(
        subject=body["subject"],
        html=body.get("html") or "",
        text=body.get("text"),
        preheader=body.get("preheader"),
        locale=body.get("locale") or "en",
        locale_variants=body.get("locale_variants") or {},
        document=body.get("document"),
    )


@bp.errorhandler(TemplateRefused)
def _refused(exc: TemplateRefused) -> Response:
    db.session.rollback()
    problems = [{"part": p.part, "line": p.line, "reason": p.reason} for p in exc.problems]
    response = jsonify({"error": {"code": "invalid", "message": str(exc), "problems": problems}})
    response.status_code = 422
    return response


@bp.get("/templates")
@document(
    "The project's templates with their versions",
    responses={200: {"type": "array", "items": TEMPLATE_OUT}},
    tags=TAGS,
)
@require(Permission.TEMPLATES_WRITE)
def templates_list() -> Response:
    return jsonify([template_json(t) for t in project_templates(g.project)])


@bp.post("/templates")
@document(
    "Create a template; its first version is a draft",
    description="Send subject and html, or name a gallery `starter` (marketing templates); "
    "with neither, a marketing template starts from the default starter.",
    request=CREATE_IN,
    responses={201: TEMPLATE_OUT, 422: REFUSED},
    tags=TAGS,
)
@require(Permission.TEMPLATES_WRITE)
def templates_create() -> tuple[Response, int]:
    body = g.body
    kind = TemplateKind(body.get("kind") or "marketing")
    content = _content(body) if "subject" in body else None
    template = create_template(
        g.project,
        body["name"],
        content,
        actor=g.actor,
        kind=kind,
        comment=body.get("comment"),
        starter=body.get("starter"),
    )
    return jsonify(template_json(template)), 201


@bp.get("/templates/<int:template_id>")
@document("A template with its versions", responses={200: TEMPLATE_OUT, 404: ERROR}, tags=TAGS)
@require(Permission.TEMPLATES_WRITE)
def templates_show(template_id: int) -> Response:
    return jsonify(template_json(get_template(g.project, template_id)))


@bp.put("/templates/<int:template_id>/draft")
@document(
    "Save the template's draft",
    description="Updates the open draft, or starts a new version after the last one.",
    request=CONTENT_IN,
    responses={200: VERSION_OUT, 404: ERROR, 422: REFUSED},
    tags=TAGS,
)
@require(Permission.TEMPLATES_WRITE)
def templates_save(template_id: int) -> Response:
    version = save_draft(
        g.project, template_id, _content(g.body), actor=g.actor, comment=g.body.get("comment")
    )
    return jsonify(version_json(version))


@bp.post("/templates/<int:template_id>/convert-to-html")
@document(
    "Turn a visual template into an HTML one (one way)",
    description="A draft whose html is what the latest version's document compiled to, with "
    "no document: from then on the template is edited as HTML. Earlier versions keep theirs.",
    responses={200: VERSION_OUT, 404: ERROR, 422: ERROR},
    tags=TAGS,
)
@require(Permission.TEMPLATES_WRITE)
def templates_convert(template_id: int) -> Response:
    return jsonify(version_json(convert_to_html(g.project, template_id, actor=g.actor)))


@bp.get("/templates/versions/<int:version_id>")
@document("One version, whole", responses={200: VERSION_OUT, 404: ERROR}, tags=TAGS)
@require(Permission.TEMPLATES_WRITE)
def versions_show(version_id: int) -> Response:
    return jsonify(version_json(get_version(g.project, version_id)))


def _step(summary: str, description: str, permission: Permission, service: Any) -> None:
    """One review step: POST /templates/versions/<id>/<name> with an optional comment."""
    name = service.__name__

    @document(
        summary,
        description=description,
        request=COMMENT_IN,
        responses={200: VERSION_OUT, 404: ERROR, 422: ERROR},
        tags=TAGS,
    )
    @require(permission)
    def view(version_id: int) -> Response:
        comment = g.body.get("comment")
        return jsonify(version_json(service(g.project, version_id, actor=g.actor, comment=comment)))

    view.__name__ = f"versions_{name}"
    path = "/templates/versions/<int:version_id>/" + STEP_PATHS[name]
    bp.add_url_rule(path, view.__name__, view, methods=["POST"])


STEP_PATHS = {
    "submit_for_review": "submit",
    "return_to_draft": "return",
    "publish_version": "publish",
    "rollback": "restore",
}
_step(
    "Send a draft for review",
    "draft -> review.",
    Permission.TEMPLATES_WRITE,
    submit_for_review,
)
_step(
    "Send a version in review back to its author",
    "review -> draft, with the reviewer's comment.",
    Permission.TEMPLATES_PUBLISH,
    return_to_draft,
)
_step(
    "Publish a version in review",
    "review -> published; the version published before is archived. Unless the project allows "
    "self-approval, a version written through the API is published by a person who reviewed it.",
    Permission.TEMPLATES_PUBLISH,
    publish_version,
)
_step(
    "Publish an earlier version again",
    "archived -> published (a rollback).",
    Permission.TEMPLATES_PUBLISH,
    rollback,
)
