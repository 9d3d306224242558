"""Contacts of the current project; list pages never count the whole table."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup
from wtforms import Form
from wtforms.validators import DataRequired, Email

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.contact_desk import ContactDeskMixin
from mailapp.admin.contact_list import ContactListMixin, status_badges
from mailapp.admin.context import current_actor, current_project, has_permission
from mailapp.admin.display import format_when
from mailapp.admin.fields import strip
from mailapp.admin.paths import path_id
from mailapp.audience import contact_reads, contacts, gdpr, lists, tags
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Contact


def _email_link(model: Contact) -> Markup:
    return Markup('<a href="{}">{}</a>').format(
        url_for(".profile", contact_id=model.id), model.email
    )


class ContactProfileMixin(ContactDeskMixin):
    """The support view of one contact, bulk list actions, and the GDPR buttons."""

    action_permissions = {
        "lists": Permission.CONTACTS_WRITE,
        "tags": Permission.CONTACTS_WRITE,
        "quarantine": Permission.CONTACTS_WRITE,
        "release": Permission.CONTACTS_WRITE,
    }
    endpoint_permissions = {
        "profile": Permission.CONTACTS_READ,
        "bulk_lists": Permission.CONTACTS_WRITE,
        "bulk_tags": Permission.CONTACTS_WRITE,
        "edit_tags": Permission.CONTACTS_WRITE,
        # A GDPR access request: the same people who handle erasure (support staff).
        "export_json": Permission.GDPR_ERASE,
        "erase": Permission.GDPR_ERASE,
        "unsubscribe": Permission.CONTACTS_WRITE,
        "resubscribe": Permission.CONTACTS_WRITE,
    }
    column_formatters = {
        "email": lambda *args: _email_link(args[2]),
        "status": lambda *args: status_badges(args[2]),
        "created_at": lambda *args: format_when(args[2].created_at),
    }

    @expose("/profile/<contact_id>")
    def profile(self, contact_id: str) -> ResponseReturnValue:
        return self.render_profile(path_id(contact_id))

    def render_profile(self, contact_id: int, **extra: object) -> str:
        """The profile page, with an error from a desk action when one was refused."""
        project = current_project()
        try:
            detail = contact_reads.contact_detail(project.id, contact_id)
        except NotFound:
            abort(404)
        return self.render(
            "admin/contact_profile.html",
            detail=detail,
            can_export=has_permission(Permission.GDPR_ERASE),
            can_erase=has_permission(Permission.GDPR_ERASE),
            can_tag=has_permission(Permission.CONTACTS_WRITE),
            can_subscribe=has_permission(Permission.CONTACTS_WRITE),
            all_lists=lists.project_lists(project.id),
            **extra,
        )

    @expose("/profile/<contact_id>/tags", methods=("GET", "POST"))
    def edit_tags(self, contact_id: str) -> ResponseReturnValue:
        """The tags box on the profile: the contact's tags become exactly those given."""
        contact_id = path_id(contact_id)
        if request.method == "GET":  # the box lives on the profile page
            return redirect(url_for(".profile", contact_id=contact_id))
        given = [t for t in request.form.get("tags", "").split(",") if t.strip()]
        try:
            tags.set_contact_tags(current_project().id, contact_id, given, actor=current_actor())
        except NotFound:
            abort(404)
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash("Tags saved.", "success")
        return redirect(url_for(".profile", contact_id=contact_id))

    @expose("/profile/<contact_id>/export.json")
    def export_json(self, contact_id: str) -> Response:
        contact_id = path_id(contact_id)
        try:
            data = gdpr.export_contact(current_project().id, contact_id, actor=current_actor())
        except NotFound:
            abort(404)
        response = Response(json.dumps(data, indent=2), mimetype="application/json")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="contact-{contact_id}.json"'
        )
        return response

    @expose("/profile/<contact_id>/erase", methods=("GET", "POST"))
    def erase(self, contact_id: str) -> ResponseReturnValue:
        """GET asks for the address typed as confirmation; POST erases only if it matches."""
        contact_id = path_id(contact_id)
        project = current_project()
        try:
            contact = contacts.get_contact(project.id, contact_id)
        except NotFound:
            abort(404)
        error = None
        if request.method == "POST":
            try:
                gdpr.erase_contact_confirmed(
                    project.id, contact_id, request.form.get("confirmation"), actor=current_actor()
                )
            except ServiceError as exc:
                db.session.rollback()
                error = str(exc).removeprefix("confirmation: ")
            else:
                flash("Personal data erased; the address stays suppressed (as a hash).", "success")
                return redirect(url_for(".profile", contact_id=contact_id))
        return self.render(
            "admin/contact_erase.html", contact=contact, error=error
        ), 400 if error else 200

    @action("lists", "Add to / remove from a list…")
    def action_lists(self, ids: list[str]) -> ResponseReturnValue:
        return redirect(url_for(".bulk_lists", ids=",".join(ids)))

    @action("tags", "Tag / untag…")
    def action_tags(self, ids: list[str]) -> ResponseReturnValue:
        return redirect(url_for(".bulk_tags", ids=",".join(ids)))

    @expose("/tags", methods=("GET", "POST"))
    def bulk_tags(self) -> ResponseReturnValue:
        project = current_project()
        ids = _selected_ids()
        if request.method == "POST":
            tag = request.form.get("tag", "")
            try:
                if request.form.get("operation") == "remove":
                    done = tags.untag_contacts(project.id, ids, tag, actor=current_actor())
                    flash(f"Tag {tag.strip()!r} removed from {done} contact(s).", "success")
                else:
                    done = tags.tag_contacts(project.id, ids, tag, actor=current_actor())
                    flash(f"Tag {tag.strip()!r} added to {done} contact(s).", "success")
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                return redirect(url_for(".index_view"))
        return self.render("admin/contact_tags.html", ids=ids, known=tags.project_tags(project.id))

    @action("quarantine", "Quarantine")
    def action_quarantine(self, ids: list[str]) -> None:
        count = contacts.set_quarantine(
            current_project().id, [int(i) for i in ids], True, actor=current_actor()
        )
        flash(f"{count} contact(s) quarantined.", "success")

    @action("release", "Release from quarantine")
    def action_release(self, ids: list[str]) -> None:
        count = contacts.set_quarantine(
            current_project().id, [int(i) for i in ids], False, actor=current_actor()
        )
        flash(f"{count} contact(s) released.", "success")

    @expose("/lists", methods=("GET", "POST"))
    def bulk_lists(self) -> ResponseReturnValue:
        project = current_project()
        ids = _selected_ids()
        if request.method == "POST":
            try:
                list_id = int(request.form.get("list_id", ""))
                if request.form.get("operation") == "remove":
                    done = lists.remove_contacts(project.id, list_id, ids, actor=current_actor())
                    flash(f"{done} contact(s) removed from the list.", "success")
                else:
                    done = lists.add_contacts(project.id, list_id, ids, actor=current_actor())
                    flash(f"{done} contact(s) added to the list.", "success")
            except (ValueError, ServiceError) as exc:
                flash(str(exc) or "Choose a list.", "error")
            else:
                return redirect(url_for(".index_view"))
        return self.render(
            "admin/contact_lists.html", ids=ids, lists=lists.project_lists(project.id)
        )

    def create_model(self, form: Form) -> Any:
        """Through the contacts service: validated, labelled, merged by normalized email."""
        try:
            contact, _ = contacts.upsert_contact(
                current_project().id, self._form_data(form), actor=current_actor(), source="admin"
            )
        except ServiceError as exc:
            self._refuse(form, exc)
            return False
        self.after_model_change(form, contact, True)
        return contact

    def update_model(self, form: Form, model: Contact) -> bool:
        """Through the contacts service, so an edit is validated as any other write."""
        try:
            contact = contacts.update_contact(
                current_project().id, model.id, self._form_data(form), actor=current_actor()
            )
        except ServiceError as exc:
            self._refuse(form, exc)
            return False
        self.after_model_change(form, contact, False)
        return True

    def _form_data(self, form: Form) -> dict[str, Any]:
        return {name: getattr(form, name).data for name in self.form_columns}

    def _refuse(self, form: Form, exc: ServiceError) -> None:
        """Roll back, show the reason next to the field it concerns, and flash it."""
        db.session.rollback()
        field = getattr(form, getattr(exc, "field", None) or "", None)
        if field is not None:
            field.errors = [*field.errors, str(exc)]
        flash(str(exc), "error")


class ContactAdmin(ContactListMixin, ContactProfileMixin, ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE
    delete_permission = Permission.CONTACTS_DELETE
    export_permission = Permission.CONTACTS_EXPORT
    allow_export = True

    # Flask-Admin's COUNT(*) is skipped; get_list counts (or estimates, at a million rows).
    simple_list_pager = True
    list_template = "admin/contact_list.html"
    column_list = ["email", "first_name", "last_name", "status", "source", "created_at"]
    column_labels = {"created_at": "Added"}
    column_searchable_list = ["email", "last_name"]
    column_filters = ["status", "source", "quarantined", "is_role_address", "created_at"]
    column_sortable_list = ["email", "last_name", "status", "created_at"]
    column_details_list = [
        "email",
        "email_raw",
        "status",
        "first_name",
        "last_name",
        "attributes",
        "timezone",
        "locale",
        "source",
        "is_role_address",
        "is_disposable",
        "quarantined",
        "soft_bounces",
        "last_sent_at",
        "last_opened_at",
        "last_clicked_at",
        "created_at",
        "updated_at",
    ]
    column_export_list = [
        "email",
        "status",
        "first_name",
        "last_name",
        "timezone",
        "locale",
        "source",
        "created_at",
    ]
    # Status follows suppression and erasure services, never a hand edit.
    form_columns = ["email", "first_name", "last_name", "timezone", "locale"]
    form_args = {"email": {"validators": [DataRequired(), Email()], "filters": [strip]}}


def _selected_ids() -> list[int]:
    """The contact ids a bulk action carried over (`ids=1,2,3`); 400 for anything else."""
    try:
        return [int(i) for i in request.values.get("ids", "").split(",") if i]
    except ValueError:
        abort(400)
