"""Mailing lists of the current project: subscriber counts, and each public list's sign-up form.

A public list's hosted form lives at /subscribe/<token>; its sign-up page gives the URL and an
HTML form to paste into a website, posting to that same endpoint with its honeypot field.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, g, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from markupsafe import Markup
from wtforms import Form

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.display import format_count
from mailapp.audience.lists import delete_list, list_counts
from mailapp.models import List, MembershipStatus


def subscribe_url(mailing_list: List) -> str:
    """The public address of a list's hosted sign-up form."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return base + url_for("subscribe.form", token=mailing_list.token)


def embed_snippet(mailing_list: List) -> str:
    """An HTML form a marketer pastes into a website; it posts to the hosted form's endpoint."""
    return render_template(
        "admin/list_embed_snippet.html",
        action=subscribe_url(mailing_list),
        consent_text=mailing_list.consent_text,
    ).strip()


def _count(status: MembershipStatus) -> Any:
    def cell(_view: Any, _context: Any, model: List, _name: str) -> str:
        counts = g.get("mailapp_list_counts", {}).get(model.id, {})
        return format_count(counts.get(status.value, 0))

    return cell


def _signup_cell(_view: Any, _context: Any, model: List, _name: str) -> Markup:
    if not model.is_public:
        return Markup('<span class="text-muted">not public</span>')
    href = url_for(".signup_view", list_id=model.id)
    return Markup('<a href="{}">Form and embed code</a>').format(href)


class ListAdmin(ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE
    endpoint_permissions = {"signup_view": Permission.CONTACTS_READ}

    column_list = [
        "name",
        "confirmed",
        "unconfirmed",
        "unsubscribed",
        "opt_in",
        "is_public",
        "signup",
        "created_at",
    ]
    column_labels = {"is_public": "Public", "opt_in": "Opt-in", "signup": "Sign-up form"}
    column_descriptions = {
        "confirmed": "Subscribed and receiving mail",
        "unconfirmed": "Signed up, waiting to click the confirmation link (double opt-in)",
    }
    column_formatters = {
        "confirmed": _count(MembershipStatus.CONFIRMED),
        "unconfirmed": _count(MembershipStatus.UNCONFIRMED),
        "unsubscribed": _count(MembershipStatus.UNSUBSCRIBED),
        "signup": _signup_cell,
    }
    column_searchable_list = ["name"]
    column_filters = ["opt_in", "is_public"]
    column_sortable_list = ["name", "created_at"]
    column_details_exclude_list = ["token"]
    form_columns = ["name", "description", "opt_in", "is_public", "consent_text", "consent_version"]

    def get_list(self, *args: Any, **kwargs: Any) -> tuple[int | None, list[Any]]:
        count, rows = super().get_list(*args, **kwargs)
        # One grouped query for the page's lists, read by the count cells.
        g.mailapp_list_counts = list_counts(current_project().id, [row.id for row in rows])
        return count, rows

    def on_model_change(self, form: Form, model: List, is_created: bool) -> Any:
        if is_created:
            model.token = secrets.token_urlsafe(16)

    @expose("/<list_id>/signup/")
    def signup_view(self, list_id: str) -> ResponseReturnValue:
        mailing_list = self.get_one(list_id)
        counts = list_counts(current_project().id, [mailing_list.id]).get(mailing_list.id, {})
        return self.render(
            "admin/list_signup.html",
            mailing_list=mailing_list,
            counts=counts,
            url=subscribe_url(mailing_list),
            snippet=embed_snippet(mailing_list),
        )

    def remove(self, model: List) -> None:
        """Refused while an open campaign sends to it; consent records stay."""
        delete_list(current_project().id, model.id, actor=current_actor())
