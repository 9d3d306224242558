"""The support desk on a contact's page: unsubscribe from one list or all, resubscribe."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.admin.context import current_actor, current_project
from mailapp.admin.paths import path_id
from mailapp.audience.resubscribe import resubscribe_contact
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.feedback.unsubscribe import subscriber_for_contact, unsubscribe


class ContactDeskMixin:
    """Actions support staff take for a person who wrote or called in.

    A refused action shows the profile again (`render_profile` of the contact view) with
    the reason, answering 400.
    """

    @expose("/profile/<contact_id>/unsubscribe", methods=("GET", "POST"))
    def unsubscribe(self, contact_id: str) -> ResponseReturnValue:
        """`list_id` leaves that list; `everything` leaves all and suppresses the address."""
        contact_id = path_id(contact_id)
        if request.method == "GET":  # the buttons live on the profile page
            return redirect(url_for(".profile", contact_id=contact_id))
        project = current_project()
        everything = request.form.get("scope") == "everything"
        list_id = None
        if not everything:
            try:
                list_id = int(request.form.get("list_id", ""))
            except ValueError:
                abort(400)
        try:
            subscriber = subscriber_for_contact(project.id, contact_id)
            names = {item[0]: item[1] for item in subscriber.lists}
            changed = unsubscribe(
                subscriber, list_id=list_id, method="support", actor=current_actor()
            )
        except NotFound as exc:
            db.session.rollback()
            if "contact" in str(exc):
                abort(404)
            return self.render_profile(contact_id, desk_error=f"Not unsubscribed: {exc}."), 400
        if everything:
            message = (
                "Unsubscribed from every list; the address is on the suppression list, so "
                "no campaign reaches it."
                if changed
                else "Already unsubscribed from everything: nothing changed."
            )
        else:
            name = names.get(list_id, "the list")
            message = (
                f"Unsubscribed from “{name}”; other lists are unchanged."
                if changed
                else f"Already unsubscribed from “{name}”: nothing changed."
            )
        flash(message, "success" if changed else "info")
        return redirect(url_for(".profile", contact_id=contact_id))

    @expose("/profile/<contact_id>/resubscribe", methods=("GET", "POST"))
    def resubscribe(self, contact_id: str) -> ResponseReturnValue:
        """Back on a list only with the consent written down (kept in the consent ledger)."""
        contact_id = path_id(contact_id)
        if request.method == "GET":  # the form lives on the profile page
            return redirect(url_for(".profile", contact_id=contact_id))
        project = current_project()
        try:
            list_id = int(request.form.get("list_id", ""))
        except ValueError:
            return self.render_profile(contact_id, desk_error="Resubscribe: choose a list."), 400
        try:
            result = resubscribe_contact(
                project.id,
                list_id,
                contact_id,
                consent=request.form.get("consent", ""),
                actor=current_actor(),
            )
        except ServiceError as exc:
            db.session.rollback()
            if str(exc) == "no such contact":
                abort(404)
            reason = str(exc).removeprefix("consent: ")
            return self.render_profile(
                contact_id,
                desk_error=f"Not resubscribed: {reason}.",
                consent_typed=request.form.get("consent", ""),
            ), 400
        if result.needs_confirmation:
            flash(
                "Consent recorded. A confirmation email was sent: the person is on the list "
                "once they click its link.",
                "success",
            )
        else:
            flash("Consent recorded; the contact is subscribed again.", "success")
        return redirect(url_for(".profile", contact_id=contact_id))
