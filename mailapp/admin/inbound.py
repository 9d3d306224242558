"""Stray returned mail: bounces and complaints that named no project, for operators only.

A message maps to its project through its VERP token, the Message-ID of our original, or an
address only one project knows. When none of these works (no or a forged VERP token, a
report about mail we never sent, an address several tenants share) nobody can say whose it
is, and it may hold any tenant's addresses and mail. So strays are not shown to a project's
members: only operators (superusers) see them, and only the strays, never a project's rows
(those are in each project's "Returned mail"). Read-only; the raw message is shown as text.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_login import current_user

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.feedback.inbound import diagnose_stray
from mailapp.feedback.returns import bounces
from mailapp.feedback.returns.codes import NOT_MAIL
from mailapp.models import InboundMessage
from mailapp.models.bounce_reason import reason_label

CLASSES = (
    bounces.HARD,
    bounces.SOFT,
    bounces.COMPLAINT,
    bounces.DELAY,
    bounces.AUTO_REPLY,
    "unsubscribe",
    bounces.UNKNOWN,
    NOT_MAIL,
)
RAW_SHOWN = 256 * 1024  # characters of the raw message on the page; the rest by download
VIEW_METHODS = frozenset(
    {
        "index_view",
        "details_view",
        "raw_view",
        "export",
        "action_view",
        "ajax_lookup",
        "create_view",
        "edit_view",
        "delete_view",
        "ajax_update",
    }
)


def _is_operator() -> bool:
    return bool(current_user.is_authenticated and current_user.is_superuser)


class StrayInboundAdmin(ProjectModelView):
    """Returned mail without a project, with what it says and why it mapped to nothing."""

    # Personal data (addresses, mail) like a project's returned mail; and operators only.
    permission = Permission.CONTACTS_READ
    superuser_only = VIEW_METHODS
    endpoint_permissions = {"raw_view": Permission.CONTACTS_READ}
    allow_create = allow_edit = allow_delete = False
    action_disallowed_list = ["delete"]
    details_template = "admin/inbound_stray_details.html"

    column_list = ["received_at", "source", "classification", "reason", "status_code", "recipients"]
    column_details_list = [*column_list, "diagnostic"]
    column_formatters = {"reason": lambda _v, _c, m, _n: reason_label(m.reason) if m.reason else ""}
    column_filters = [
        FilterEqual(
            InboundMessage.classification, "Classification", options=[(c, c) for c in CLASSES]
        ),
        "source",
        "received_at",
        "status_code",
    ]
    column_searchable_list = ["recipients", "diagnostic"]
    column_sortable_list = ["received_at", "classification", "status_code"]
    column_default_sort = ("received_at", True)
    column_labels = {"recipients": "Addresses named", "status_code": "Status"}

    def is_accessible(self) -> bool:
        return super().is_accessible() and _is_operator()

    def is_visible(self) -> bool:
        return _is_operator()

    def scope_filter(self) -> Any:
        """Strays only: a row with a project belongs to that project's returned mail."""
        return InboundMessage.project_id.is_(None)

    def render(self, template: str, **kwargs: Any) -> str:
        if template == self.details_template and kwargs.get("model") is not None:
            model = kwargs["model"]
            text = model.raw.decode("utf-8", errors="replace")
            kwargs["diagnosis"] = diagnose_stray(model)
            kwargs["raw_text"] = text[:RAW_SHOWN]
            kwargs["raw_cut"] = len(text) > RAW_SHOWN
        return super().render(template, **kwargs)

    @expose("/raw/")
    def raw_view(self) -> ResponseReturnValue:
        """The message as received, as a plain-text download."""
        message = self.get_one(request.args.get("id"))
        return Response(
            message.raw,
            mimetype="text/plain",
            headers={
                "Content-Disposition": f'attachment; filename="stray-{message.id}.eml"',
                "X-Content-Type-Options": "nosniff",
            },
        )
