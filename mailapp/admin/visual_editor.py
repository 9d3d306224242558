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
from mailapp.admin import visual_editor_parts as parts
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project, has_permission
from mailapp.admin.urlargs import post_only, url_id
from mailapp.content.assets import upload_asset
from mailapp.content.blocks import BLOCK_TYPES, new_document
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
from mailapp.delivery.preflight import content_checks
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Contact, Sender


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
            "version": parts.version_info(latest),
            "blockTypes": list(BLOCK_TYPES),
            "brand": parts.brand(project),
            "tags": parts.tags(project.id),
            "assets": parts.assets(project),
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
        return jsonify({"saved": True, "version": parts.version_info(version)})

    @expose("/<template_id>/preview", methods=("GET", "POST"))
    def preview(self, template_id: str) -> ResponseReturnValue:
        """The document compiled and rendered for a contact, with the content checks."""
        post_only()
        template = self._template(template_id)
        body = _body()
        project = current_project()
        contact = parts.contact(project, body.get("contact_id"))
        try:
            version = unsaved_version(project, template, _content(body))
            rendered = render_preview(
                project, version, contact_id=contact.id if contact is not None else None
            )
        except (ServiceError, RenderError) as exc:
            db.session.rollback()
            return jsonify({"html": None, "problems": _problems(exc), "checks": []})
        sender = parts.sender(project, body.get("sender_id"))
        checks = content_checks(version, sender, project, contact=contact)
        checks += parts.editor_checks(rendered.preheader)
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
        return jsonify(parts.asset_info(asset))

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
