"""Settings → Transports: per sender, the SMTP relays and ESP APIs its mail goes through,
their weights, order and health; add, edit (the URL is write-only), move, remove."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.access.validation import InvalidSettings
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.urlargs import post_only, url_id
from mailapp.delivery.sender_transports import (
    URL_HELP,
    add_transport,
    get_transport,
    move_transport,
    remove_transport,
    update_transport,
)
from mailapp.delivery.senders import get_sender
from mailapp.delivery.transport_status import transport_rows
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import Sender, SenderTransport

FORM_FIELDS = ("name", "url", "weight")


class TransportsView(ProjectView):
    permission = Permission.SENDERS_MANAGE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        senders = db.session.scalars(
            sa.select(Sender).where(Sender.project_id == current_project().id).order_by(Sender.id)
        ).all()
        return self.render("admin/transports_list.html", senders=senders)

    @expose("/<sender_id>/", methods=("GET", "POST"))
    def sender(self, sender_id: str) -> ResponseReturnValue:
        sender = self._sender(sender_id)
        values: dict[str, Any] = {"name": "", "weight": "1", "enabled": True}
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = _posted()
            try:
                add_transport(current_project(), sender.id, values, actor=current_actor())
            except InvalidSettings as exc:
                db.session.rollback()
                errors = exc.errors
                flash("Nothing was saved: correct the fields marked below.", "error")
            else:
                flash(f"Transport {values['name']} added.", "success")
                return redirect(url_for(".sender", sender_id=sender.id))
        values.pop("url", None)  # never written back into the page
        return self.render(
            "admin/sender_transports.html",
            sender=sender,
            rows=transport_rows(current_project(), sender),
            values=values,
            errors=errors,
            url_help=URL_HELP,
        )

    @expose("/<sender_id>/<transport_id>/edit", methods=("GET", "POST"))
    def edit(self, sender_id: str, transport_id: str) -> ResponseReturnValue:
        sender = self._sender(sender_id)
        transport = self._transport(sender, transport_id)
        values: dict[str, Any] = {
            "name": transport.name,
            "weight": str(transport.weight),
            "enabled": transport.enabled,
        }
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = _posted()
            try:
                update_transport(
                    current_project(), sender.id, transport.id, values, actor=current_actor()
                )
            except InvalidSettings as exc:
                db.session.rollback()
                errors = exc.errors
                flash("Nothing was saved: correct the fields marked below.", "error")
            else:
                flash(f"Transport {values['name']} saved.", "success")
                return redirect(url_for(".sender", sender_id=sender.id))
        values.pop("url", None)
        return self.render(
            "admin/sender_transport_edit.html",
            sender=sender,
            transport=transport,
            values=values,
            errors=errors,
            url_help=URL_HELP,
        )

    @expose("/<sender_id>/<transport_id>/remove", methods=("GET", "POST"))
    def remove(self, sender_id: str, transport_id: str) -> ResponseReturnValue:
        post_only()
        sender = self._sender(sender_id)
        transport = self._transport(sender, transport_id)
        name = transport.name
        remove_transport(current_project(), sender.id, transport.id, actor=current_actor())
        left = "" if sender.transports else " With none left, mail goes via the server's relay."
        flash(f"Transport {name} removed.{left}", "success")
        return redirect(url_for(".sender", sender_id=sender.id))

    @expose("/<sender_id>/<transport_id>/move", methods=("GET", "POST"))
    def move(self, sender_id: str, transport_id: str) -> ResponseReturnValue:
        post_only()
        sender = self._sender(sender_id)
        step = -1 if request.form.get("direction") == "up" else 1
        try:
            move_transport(
                current_project(), sender.id, url_id(transport_id), step, actor=current_actor()
            )
        except NotFound:
            abort(404)
        return redirect(url_for(".sender", sender_id=sender.id))

    def _sender(self, sender_id: str) -> Sender:
        try:
            return get_sender(current_project(), url_id(sender_id))
        except NotFound:
            abort(404)

    def _transport(self, sender: Sender, transport_id: str) -> SenderTransport:
        try:
            return get_transport(current_project(), sender.id, url_id(transport_id))
        except NotFound:
            abort(404)


def _posted() -> dict[str, Any]:
    """The form's fields; an empty URL means "keep the stored one" (it is write-only)."""
    values: dict[str, Any] = {name: request.form.get(name, "") for name in FORM_FIELDS}
    values["enabled"] = request.form.get("enabled") == "on"
    if not values["url"]:
        del values["url"]
    return values
