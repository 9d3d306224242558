"""Templates of the current project: versions, editing, review, publishing, preview, test send.

Every change goes through content.templates (checked, sanitized, audited); the preview is
rendered by content.preview and shown only inside a sandboxed iframe whose document is
served with a CSP that forbids scripts, forms and plugins.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor, current_project, has_permission
from mailapp.admin.template_starts import add_start_fields, start_content
from mailapp.admin.urlargs import post_only, url_id
from mailapp.content.conversion import convert_to_html
from mailapp.content.preview import (
    MAX_TEST_RECIPIENTS,
    PREVIEW_WIDTHS,
    preview_document,
    render_preview,
    send_test,
)
from mailapp.content.rendering import AUTHOR_VARIABLES, RenderError
from mailapp.content.submission import Content, TemplateRefused
from mailapp.content.templates import (
    create_template,
    get_template,
    get_version,
    publish_version,
    return_to_draft,
    rollback,
    save_draft,
    submit_for_review,
)
from mailapp.delivery.preflight import content_checks
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Sender, TemplateKind, VersionStatus

# Remote images are allowed (that is how mail shows them); nothing else may load or run.
PREVIEW_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)
VERSION_ACTIONS = {
    "submit": submit_for_review,
    "return": return_to_draft,
    "publish": publish_version,
    "rollback": rollback,
}


class VersionForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired()])
    preheader = StringField("Preheader", validators=[Optional()])
    html = TextAreaField("HTML", validators=[DataRequired()], render_kw={"rows": 18})
    text = TextAreaField(
        "Text part",
        validators=[Optional()],
        render_kw={"rows": 8},
        description="Leave empty to generate it from the HTML.",
    )
    locale = StringField("Locale", default="en", validators=[DataRequired()])
    locale_variants = TextAreaField(
        "Locale variants (JSON)",
        validators=[Optional()],
        render_kw={"rows": 4},
        description='{"de": {"subject": "...", "html": "..."}}; missing parts fall back.',
    )
    comment = StringField("Comment", validators=[Optional()])


def _content(form: VersionForm) -> Content:
    raw = (form.locale_variants.data or "").strip()
    try:
        variants = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise ServiceError(f"locale variants: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise ServiceError('locale variants: use {"de": {"subject": ..., "html": ...}}')
    return Content(
        subject=form.subject.data or "",
        html=form.html.data or "",
        text=form.text.data or None,
        preheader=form.preheader.data or None,
        locale=(form.locale.data or "en").strip(),
        locale_variants=variants,
    )


def _flash_refusal(exc: ServiceError) -> None:
    if isinstance(exc, TemplateRefused):
        for problem in exc.problems:
            flash(str(problem), "error")
    else:
        flash(str(exc), "error")


class TemplateAdmin(ProjectModelView):
    permission = Permission.TEMPLATES_WRITE
    endpoint_permissions = {
        "versions_view": Permission.TEMPLATES_WRITE,
        "edit_version_view": Permission.TEMPLATES_WRITE,
        "version_action": Permission.TEMPLATES_WRITE,
        "convert_view": Permission.TEMPLATES_WRITE,
        "preview_view": Permission.TEMPLATES_WRITE,
        "preview_body": Permission.TEMPLATES_WRITE,
        "test_send_view": Permission.CAMPAIGNS_SEND,
    }

    column_list = ["name", "kind", "published_version", "created_at"]
    column_searchable_list = ["name"]
    column_filters = ["kind"]
    column_sortable_list = ["name", "kind", "created_at"]
    column_details_list = ["name", "kind", "published_version", "created_at"]
    column_formatters = {"name": lambda _v, _c, model, _n: _versions_link(model)}
    form_columns = ["name", "kind"]
    # Lists of radios, not boxes.
    form_widget_args = {
        name: {"class": "list-unstyled mb-0"} for name in ("editor", "visual_starter", "starter")
    }
    # Name and kind are edited here; content only through versions.
    form_args = {
        "name": {"description": "A new template starts with a layout to edit as its first draft."}
    }

    def get_create_form(self) -> Any:
        return add_start_fields(super().get_create_form())

    def save_new(self, form: Any, model: Any) -> Any:
        kind = TemplateKind(model.kind or TemplateKind.MARKETING)
        return create_template(
            current_project(),
            model.name or "",
            start_content(form, kind, model.name or ""),
            actor=current_actor(),
            kind=kind,
        )

    def get_save_return_url(self, model: Any, is_created: bool = False) -> str:
        if is_created and model.versions and model.versions[-1].document is not None:
            return url_for("visual_editor.edit_view", template_id=model.id)
        if is_created:
            return url_for(".edit_version_view", template_id=model.id)
        return super().get_save_return_url(model, is_created)

    @expose("/<template_id>/versions/")
    def versions_view(self, template_id: str) -> ResponseReturnValue:
        template = self._template(template_id)
        return self.render(
            "admin/template_versions.html",
            current=template,
            versions=list(reversed(template.versions)),
            Status=VersionStatus,
            can_publish=has_permission(Permission.TEMPLATES_PUBLISH),
        )

    @expose("/<template_id>/draft/", methods=("GET", "POST"))
    def edit_version_view(self, template_id: str) -> ResponseReturnValue:
        template = self._template(template_id)
        latest = template.versions[-1] if template.versions else None
        if latest is not None and latest.document is not None:
            # Saving HTML here would silently drop the blocks: converting is a deliberate step.
            return redirect(url_for("visual_editor.edit_view", template_id=template.id))
        form = VersionForm(obj=latest)
        if request.method == "GET" and latest is not None:
            form.locale_variants.data = json.dumps(
                latest.locale_variants or {}, indent=2, ensure_ascii=False
            )
        if form.validate_on_submit():
            try:
                version = save_draft(
                    current_project(),
                    template.id,
                    _content(form),
                    actor=current_actor(),
                    comment=form.comment.data or None,
                )
            except ServiceError as exc:
                db.session.rollback()
                _flash_refusal(exc)
            else:
                flash(f"Saved as draft v{version.number}.", "success")
                return redirect(url_for(".versions_view", template_id=template.id))
        return self.render(
            "admin/template_edit.html", form=form, current=template, variables=AUTHOR_VARIABLES
        )

    @expose("/<template_id>/convert/", methods=("GET", "POST"))
    def convert_view(self, template_id: str) -> ResponseReturnValue:
        """Turn the visual draft into an HTML one (one way: the blocks are not kept)."""
        post_only()
        template = self._template(template_id)
        try:
            version = convert_to_html(current_project(), template.id, actor=current_actor())
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".versions_view", template_id=template.id))
        flash(
            f"Converted to HTML as draft v{version.number}: edit it in the HTML editor.", "success"
        )
        return redirect(url_for(".edit_version_view", template_id=template.id))

    @expose("/version/<version_id>/<action>/", methods=("GET", "POST"))
    def version_action(self, version_id: str, action: str) -> ResponseReturnValue:
        post_only()
        if action not in VERSION_ACTIONS:
            abort(404)
        version = self._version(version_id)
        try:
            VERSION_ACTIONS[action](
                current_project(),
                version.id,
                actor=current_actor(),
                comment=request.form.get("comment") or None,
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(f"v{version.number} is now {version.status}.", "success")
        return redirect(url_for(".versions_view", template_id=version.template_id))

    @expose("/version/<version_id>/preview/")
    def preview_view(self, version_id: str) -> ResponseReturnValue:
        version = self._version(version_id)
        width = request.args.get("width", 600, type=int)
        width = width if width in PREVIEW_WIDTHS else 600
        options = self._preview_options()
        senders = db.session.scalars(
            sa.select(Sender).where(Sender.project_id == current_project().id).order_by(Sender.id)
        ).all()
        sender = next(
            (s for s in senders if s.id == request.args.get("sender_id", type=int)),
            senders[0] if senders else None,
        )
        rendered, error = None, None
        try:
            rendered = render_preview(current_project(), version, **options)
        except (RenderError, NotFound) as exc:
            error = str(exc)
        return self.render(
            "admin/template_preview.html",
            version=version,
            rendered=rendered,
            error=error,
            width=width,
            widths=PREVIEW_WIDTHS,
            dark=request.args.get("dark") == "1",
            options=options,
            senders=senders,
            sender=sender,
            checks=content_checks(version, sender, current_project()),
            max_recipients=MAX_TEST_RECIPIENTS,
        )

    @expose("/version/<version_id>/preview/body")
    def preview_body(self, version_id: str) -> ResponseReturnValue:
        version = self._version(version_id)
        try:
            rendered = render_preview(
                current_project(), version, signed_links=True, **self._preview_options()
            )
        except (RenderError, NotFound):
            abort(404)
        html = preview_document(rendered.html, dark=request.args.get("dark") == "1")
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = PREVIEW_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/version/<version_id>/test-send/", methods=("GET", "POST"))
    def test_send_view(self, version_id: str) -> ResponseReturnValue:
        post_only()
        version = self._version(version_id)
        try:
            results = send_test(
                current_project(),
                version.id,
                request.form.get("recipients", ""),
                sender_id=request.form.get("sender_id", type=int) or 0,
                actor=current_actor(),
                **self._preview_options(request.form),
            )
        except (ServiceError, RenderError) as exc:
            db.session.rollback()
            flash(f"Test not sent: {exc}", "error")
        else:
            for r in results:
                category = "success" if r.result.outcome == "sent" else "error"
                flash(
                    f"{r.address}: {r.result.outcome} ({r.result.code} {r.result.reply})", category
                )
        return redirect(url_for(".preview_view", version_id=version.id))

    def _preview_options(self, source: Any = None) -> dict[str, Any]:
        source = source if source is not None else request.args
        return {
            "contact_id": source.get("contact_id", type=int),
            "locale": (source.get("locale") or "").strip() or None,
        }

    def _template(self, template_id: str) -> Any:
        try:
            return get_template(current_project(), url_id(template_id))
        except NotFound:
            abort(404)

    def _version(self, version_id: str) -> Any:
        try:
            return get_version(current_project(), url_id(version_id))
        except NotFound:
            abort(404)


def _versions_link(template: Any) -> Markup:
    href = url_for(".versions_view", template_id=template.id)
    return Markup('<a href="{}">{}</a>').format(href, template.name)
