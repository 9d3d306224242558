"""The transactional activity log and each message's page, for support and marketers.

The rendered message is user content: like the Outbox it is shown only inside an iframe with
an empty `sandbox`, served from its own URL with a CSP forbidding scripts and remote loads
(so looking at a message never counts as an open). People without `contacts.read` see
addresses masked.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.parser import BytesParser

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project, has_permission
from mailapp.admin.display import viewer_zone
from mailapp.admin.outbox import BODY_CSP
from mailapp.delivery.message_tags import project_tags, tags_of
from mailapp.delivery.resend import IN_FLIGHT, resend_message
from mailapp.delivery.transactional import get_message
from mailapp.delivery.transactional_send import recompose_message
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.insights.delivery_log import delivery_page
from mailapp.insights.message_export import export_messages
from mailapp.insights.message_log import (
    LogFilters,
    describe,
    log_filters,
    mask_address,
    message_page,
    with_page,
)
from mailapp.insights.message_timeline import message_timeline
from mailapp.models import DeliveryStatus, Message, Sender, Template
from mailapp.runtime.outbox import message_bodies

STATUS_LABELS = {
    DeliveryStatus.QUEUED: "Queued",
    DeliveryStatus.SENDING: "Sending",
    DeliveryStatus.SENT: "Sent",
    DeliveryStatus.DEFERRED: "Deferred, will retry",
    DeliveryStatus.FAILED: "Failed",
    DeliveryStatus.SUPPRESSED: "Not sent (suppressed)",
    DeliveryStatus.UNKNOWN: "Unknown (worker lost)",
}
STATUS_TONES = {
    DeliveryStatus.SENT: "success",
    DeliveryStatus.DEFERRED: "warning",
    DeliveryStatus.FAILED: "danger",
    DeliveryStatus.SUPPRESSED: "dark",
    DeliveryStatus.UNKNOWN: "warning",
}


def _masked() -> bool:
    return not has_permission(Permission.CONTACTS_READ)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


def _local_input(moment: datetime | None) -> str:
    """A moment as a datetime-local input shows it, in the viewer's zone."""
    return moment.astimezone(viewer_zone()).strftime("%Y-%m-%dT%H:%M") if moment else ""


class MessageLogView(ProjectView):
    permission = Permission.MESSAGES_READ

    def permission_for(self, name: str) -> Permission | None:
        return Permission.MESSAGES_RESEND if name == "resend" else self.permission

    @expose("/")
    def index(self) -> ResponseReturnValue:
        project = current_project()
        kind = "campaigns" if request.args.get("kind") == "campaigns" else "messages"
        page_of = delivery_page if kind == "campaigns" else message_page
        try:
            filters = log_filters(request.args, viewer_zone())
        except ServiceError as exc:
            flash(str(exc), "error")
            filters, page, status = LogFilters(), None, 400
        else:
            page = page_of(project.id, filters, before=_int_arg("before"), after=_int_arg("after"))
            status = 200
        return self.render(
            "admin/messages/log.html",
            kind=kind,
            filters=filters,
            page=page,
            templates=db.session.execute(
                sa.select(Template.id, Template.name)
                .where(Template.project_id == project.id)
                .order_by(Template.name)
            ).all(),
            senders=db.session.execute(
                sa.select(Sender.id, Sender.name)
                .where(Sender.project_id == project.id)
                .order_by(Sender.name)
            ).all(),
            tags=project_tags(project.id),
            statuses=STATUS_LABELS,
            tones=STATUS_TONES,
            masked=_masked(),
            mask=mask_address,
            with_page=with_page,
            local_input=_local_input,
            can_see_reports=has_permission(Permission.ANALYTICS_READ),
        ), status

    @expose("/export.csv")
    def export(self) -> ResponseReturnValue:
        try:
            filters = log_filters(request.args, viewer_zone())
        except ServiceError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        # Read now, inside the request: the pages come through the request's session.
        lines = "".join(
            export_messages(current_project().id, filters, masked=_masked(), actor=current_actor())
        )
        return Response(
            lines,
            mimetype="text/csv",
            headers={
                "Content-Disposition": 'attachment; filename="activity-log.csv"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @expose("/<message_id>/")
    def detail(self, message_id: str) -> ResponseReturnValue:
        project = current_project()
        message = self._message(message_id)
        raw = None if _masked() else recompose_message(message)
        headers, html, text = [], None, None
        if raw is not None:
            parsed = BytesParser(policy=policy.default).parsebytes(raw)
            headers = [(k, str(v)) for k, v in parsed.items() if k.lower() != "dkim-signature"]
            html, text = message_bodies(parsed)
        row = describe(project.id, [message])[0]
        return self.render(
            "admin/messages/detail.html",
            message=message,
            row=row,
            tags=tags_of(project.id, [message.id])[message.id],
            timeline=message_timeline(project.id, message),
            headers=headers,
            html=html,
            text=text,
            statuses=STATUS_LABELS,
            tones=STATUS_TONES,
            masked=_masked(),
            mask=mask_address,
            can_resend=has_permission(Permission.MESSAGES_RESEND),
            in_flight=message.status in IN_FLIGHT,
        )

    @expose("/<message_id>/body")
    def body(self, message_id: str) -> ResponseReturnValue:
        if _masked():
            abort(403)
        raw = recompose_message(self._message(message_id))
        html = None
        if raw is not None:
            html, _ = message_bodies(BytesParser(policy=policy.default).parsebytes(raw))
        if html is None:
            abort(404)
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = BODY_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<message_id>/resend", methods=["GET", "POST"])
    def resend(self, message_id: str) -> ResponseReturnValue:
        original = self._message(message_id)
        if request.method == "GET":
            return redirect(url_for(".detail", message_id=original.id))
        try:
            copy = resend_message(current_project(), original.id, actor=current_actor())
        except NotFound:
            abort(404)
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".detail", message_id=original.id))
        flash(f"Sent again as a new message, #{copy.id}.", "success")
        return redirect(url_for(".detail", message_id=copy.id))

    def _message(self, message_id: str) -> Message:
        if not message_id.isdigit() or len(message_id) > 18:
            abort(404)
        try:
            return get_message(current_project().id, int(message_id))
        except NotFound:
            abort(404)
