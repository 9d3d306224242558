"""The visual editor of a template's draft: blocks on the left, a live preview on the right.

The page posts the document as JSON (CSRF token in a header); every change goes through the
content package: `save_draft` checks and compiles it, the preview compiles and renders it for
a contact exactly as a saved version would be, and the test send is the template preview's.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from jinja2.utils import htmlsafe_json_dumps

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project, has_permission
from mailapp.admin.urlargs import post_only, url_id
from mailapp.audience.segments.choices import attribute_choices
from mailapp.content.assets import asset_url, list_assets, upload_asset
from mailapp.content.blocks import BLOCK_TYPES, new_document
from mailapp.content.brand import brand_for
from mailapp.content.preview import (
    MAX_TEST_RECIPIENTS,
    preview_document,
    render_preview,
    send_test,
)
from mailapp.content.rendering import RenderError
from mailapp.content.submission import Content, TemplateRefused
from mailapp.content.templates import get_template, get_version, save_draft
from mailapp.content.visual_preview import unsaved_version
from mailapp.delivery.checklist import Check
from mailapp.delivery.preflight import content_checks
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Contact, Sender

PREVIEW_TEXT_CHARS = (40, 130)  # what inboxes show after the subject, phone to desktop
CONTACT_FIELDS = [
    ("first_name", "First name", "there"),
    ("last_name", "Last name", ""),
    ("email", "Email address", ""),
]


def _problems(exc: ServiceError) -> list[dict[str, Any]]:
    problems = exc.problems if isinstance(exc, TemplateRefused) else []
    if not problems:
        return [{"part": "", "message": str(exc), "text": str(exc)}]
    return [
        {"part": p.part or "", "message": p.reason, "text": str(p)}
        for p in problems  # the page puts each next to the block its part names
    ]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
        abort(400)
    return body


def _content(body: dict[str, Any]) -> Content:
    return Content(
        subject=str(body.get("subject") or ""),
        html="",
        preheader=str(body.get("preheader") or "") or None,
        document=body["document"],
    )


class VisualEditorView(ProjectView):
    permission = Permission.TEMPLATES_WRITE

    def permission_for(self, name: str) -> Permission | None:
        return Permission.CAMPAIGNS_SEND if name == "test_send" else self.permission

    def is_visible(self) -> bool:
        return False  # opened from a template, not from the menu

    @expose("/")
    def index(self) -> ResponseReturnValue:
        """Visual templates are opened from the template list."""
        return redirect(url_for("template.index_view"))

    @expose("/<template_id>/")
    def edit_view(self, template_id: str) -> ResponseReturnValue:
        template = self._template(template_id)
        latest = template.versions[-1] if template.versions else None
        if latest is not None and latest.document is None:
            flash("This template is written in HTML: it opens in the HTML editor.", "info")
            return redirect(url_for("template.edit_version_view", template_id=template.id))
        project = current_project()
        senders = db.session.scalars(
            sa.select(Sender).where(Sender.project_id == project.id).order_by(Sender.id)
        ).all()
        data = {
            "document": latest.document if latest is not None else new_document(),
            "subject": latest.subject if latest is not None else "",
            "preheader": (latest.preheader or "") if latest is not None else "",
            "version": _version_info(latest),
            "blockTypes": list(BLOCK_TYPES),
            "brand": _brand(project),
            "tags": _tags(project.id),
            "assets": _assets(project),
            "senders": [{"id": s.id, "name": str(s)} for s in senders],
            "canSend": has_permission(Permission.CAMPAIGNS_SEND),
            "maxRecipients": MAX_TEST_RECIPIENTS,
            "urls": {
                "save": url_for(".save", template_id=template.id),
                "preview": url_for(".preview", template_id=template.id),
                "contacts": url_for(".contacts"),
                "upload": url_for(".upload"),
                "testSend": url_for(".test_send", template_id=template.id),
                "versions": url_for("template.versions_view", template_id=template.id),
            },
        }
        return self.render("admin/visual_editor.html", current=template, data=data)

    @expose("/<template_id>/save", methods=("GET", "POST"))
    def save(self, template_id: str) -> ResponseReturnValue:
        """Save the document as the draft; a refusal names each block's problem."""
        post_only()
        template = self._template(template_id)
        body = _body()
        try:
            version = save_draft(
                current_project(),
                template.id,
                _content(body),
                actor=current_actor(),
                comment=str(body.get("comment") or "") or None,
            )
        except ServiceError as exc:
            db.session.rollback()
            return jsonify({"saved": False, "problems": _problems(exc)}), 422
        return jsonify({"saved": True, "version": _version_info(version)})

    @expose("/<template_id>/preview", methods=("GET", "POST"))
    def preview(self, template_id: str) -> ResponseReturnValue:
        """The document compiled and rendered for a contact, with the content checks."""
        post_only()
        template = self._template(template_id)
        body = _body()
        project = current_project()
        contact = _contact(project, body.get("contact_id"))
        try:
            version = unsaved_version(project, template, _content(body))
            rendered = render_preview(
                project, version, contact_id=contact.id if contact is not None else None
            )
        except (ServiceError, RenderError) as exc:
            db.session.rollback()
            return jsonify({"html": None, "problems": _problems(exc), "checks": []})
        sender = _sender(project, body.get("sender_id"))
        checks = content_checks(version, sender, project, contact=contact)
        checks += _editor_checks(rendered.preheader)
        return jsonify(
            {
                "html": preview_document(rendered.html, dark=bool(body.get("dark"))),
                "subject": rendered.subject,
                "preheader": rendered.preheader,
                "contact": contact.email if contact is not None else None,
                "problems": [],
                "checks": [
                    {
                        "name": c.name,
                        "label": c.label,
                        "ok": c.ok,
                        "blocking": c.blocking,
                        "message": c.message,
                    }
                    for c in checks
                ],
            }
        )

    @expose("/contacts")
    def contacts(self) -> Response:
        """Up to ten contacts of the project whose email or name contains the words typed."""
        words = (request.args.get("q") or "").strip()[:100]
        query = sa.select(Contact).where(Contact.project_id == current_project().id)
        if words:
            like = f"%{words}%"
            query = query.where(
                sa.or_(
                    Contact.email.ilike(like),
                    Contact.first_name.ilike(like),
                    Contact.last_name.ilike(like),
                    (Contact.first_name + " " + Contact.last_name).ilike(like),
                )
            )
        found = db.session.scalars(query.order_by(Contact.email).limit(10)).all()
        people = [
            {
                "id": c.id,
                "email": c.email,
                "name": " ".join(n for n in (c.first_name, c.last_name) if n),
            }
            for c in found
        ]
        # Names are whatever an import brought: "<" stays out of the body even as JSON.
        return Response(htmlsafe_json_dumps(people), mimetype="application/json")

    @expose("/upload", methods=("GET", "POST"))
    def upload(self) -> ResponseReturnValue:
        """Upload one image into the asset library, from the image block."""
        if request.method != "POST":
            return redirect(url_for("asset_library.index"))  # the library lists them
        file = request.files.get("file")
        if file is None or not file.filename:
            return jsonify({"error": "Choose an image to upload."}), 400
        try:
            asset = upload_asset(
                current_project(), file.filename, file.read(), actor=current_actor()
            )
        except ServiceError as exc:
            db.session.rollback()
            return jsonify({"error": str(exc)}), 422
        return jsonify(_asset(asset))

    @expose("/<template_id>/test-send", methods=("GET", "POST"))
    def test_send(self, template_id: str) -> ResponseReturnValue:
        """Send the saved draft as a test, rendered for the contact picked for the preview."""
        post_only()
        template = self._template(template_id)
        body = request.get_json(silent=True) or {}
        try:
            version = get_version(current_project(), int(body.get("version_id") or 0))
            if version.template_id != template.id:
                raise NotFound("not a version of this template")
            results = send_test(
                current_project(),
                version.id,
                str(body.get("recipients") or ""),
                sender_id=int(body.get("sender_id") or 0),
                actor=current_actor(),
                contact_id=body.get("contact_id")
                if isinstance(body.get("contact_id"), int)
                else None,
            )
        except (ServiceError, RenderError, ValueError) as exc:
            db.session.rollback()
            return jsonify({"sent": False, "error": f"Test not sent: {exc}"}), 422
        return jsonify(
            {
                "sent": all(r.result.outcome == "sent" for r in results),
                "results": [
                    {"address": r.address, "outcome": r.result.outcome, "reply": r.result.reply}
                    for r in results
                ],
            }
        )

    def _template(self, template_id: str) -> Any:
        try:
            return get_template(current_project(), url_id(template_id))
        except NotFound:
            abort(404)


def _editor_checks(preheader: str) -> list[Check]:
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


def _contact(project: Any, contact_id: Any) -> Contact | None:
    """The contact picked for the preview, if it is one of this project's."""
    if not isinstance(contact_id, int):
        return None
    return db.session.scalar(
        sa.select(Contact).where(Contact.id == contact_id, Contact.project_id == project.id)
    )


def _sender(project: Any, sender_id: Any) -> Sender | None:
    """The sender the checks are made with: the one picked, else the project's first."""
    senders = db.session.scalars(
        sa.select(Sender).where(Sender.project_id == project.id).order_by(Sender.id)
    ).all()
    return next((s for s in senders if s.id == sender_id), senders[0] if senders else None)


def _version_info(version: Any) -> dict[str, Any] | None:
    if version is None:
        return None
    return {"id": version.id, "number": version.number, "status": str(version.status)}


def _asset(asset: Any) -> dict[str, Any]:
    return {
        "id": asset.id,
        "url": asset_url(asset),
        "filename": asset.filename,
        "width": asset.width,
        "size": asset.size,
    }


def _assets(project: Any) -> list[dict[str, Any]]:
    return [_asset(a) for a in list_assets(project) if a.content_type.startswith("image/")]


def _brand(project: Any) -> dict[str, Any]:
    brand = brand_for(project)
    return {"width": brand.width, "primary": brand.primary}


def _tags(project_id: int) -> list[dict[str, str]]:
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
