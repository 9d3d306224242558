"""Journeys in the back office: the list, "New journey" from a starter, the visual builder
(saved as JSON through `update_draft`), publish, pause / resume / stop, and the walk of one
contact. Building needs campaigns.write; publishing and the controls need campaigns.send."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project, has_permission
from mailapp.admin.journey_pages import (
    builder_page,
    index_rows,
    problem_rows,
    problems_json,
    starter_defaults,
    walk_page,
)
from mailapp.admin.journey_shape import shape_problems
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.journeys import journeys as service
from mailapp.journeys.enrollment import enroll
from mailapp.journeys.starters import STARTERS, starter
from mailapp.models import Journey

WRITE, SEND = Permission.CAMPAIGNS_WRITE, Permission.CAMPAIGNS_SEND
CONTROLS = {
    "pause": (service.pause_journey, "paused: nobody moves on until you resume it"),
    "resume": (service.resume_journey, "running again"),
    "stop": (service.stop_journey, "stopped: everyone still in it has left"),
}


NOBODY_ENTERED = (
    "Nobody entered: they are in it already, went through it before (see the re-entry rule), "
    "or are unsubscribed, bounced or suppressed."
)


def _journey_id(value: str) -> int:
    if not value.isdigit():
        raise ServiceError("No such journey.")
    return int(value)


class JourneysView(ProjectView):
    permission = WRITE
    SEND_METHODS = frozenset({"publish", "control", "add_contacts"})

    def permission_for(self, name: str) -> Permission | None:
        return SEND if name in self.SEND_METHODS else WRITE

    def _get(self, journey_id: str) -> Journey | None:
        try:
            return service.get_journey(current_project(), _journey_id(journey_id))
        except ServiceError:
            return None

    @expose("/")
    def index(self) -> ResponseReturnValue:
        project = current_project()
        return self.render(
            "admin/journey_list.html",
            rows=index_rows(project),
            starters=list(STARTERS.values()),
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self) -> ResponseReturnValue:
        """POST: a new draft from a starter (or blank); a GET changes nothing."""
        if request.method != "POST":
            return redirect(url_for(".index"))
        project, key = current_project(), request.form.get("starter", "")
        name = request.form.get("name", "").strip()
        fields: dict[str, Any] = {}
        if key in STARTERS:
            chosen = starter(key, **starter_defaults(project.id))
            fields = {"trigger": chosen.trigger, "graph": chosen.graph, "settings": chosen.settings}
            name = name or chosen.name
        try:
            journey = service.create_journey(
                project, name or "New journey", actor=current_actor(), **fields
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        return redirect(url_for(".builder", journey_id=journey.id))

    @expose("/<journey_id>/")
    def builder(self, journey_id: str) -> ResponseReturnValue:
        journey = self._get(journey_id)
        if journey is None:
            abort(404)
        return self.render(
            "admin/journey_builder.html",
            **builder_page(current_project(), journey),
            can_send=has_permission(SEND),
        )

    @expose("/<journey_id>/draft", methods=("GET", "POST"))
    def draft(self, journey_id: str) -> ResponseReturnValue:
        """POST the edited journey as JSON: saved, or refused with each step's problems."""
        journey = self._get(journey_id)
        if journey is None:
            return jsonify(problems=[{"step": None, "message": "No such journey."}]), 404
        if request.method != "POST":
            return redirect(url_for(".builder", journey_id=journey.id))
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(problems=[{"step": None, "message": "Send the journey as JSON."}]), 400
        changes = {k: body[k] for k in ("name", "trigger", "graph", "settings") if k in body}
        project = current_project()
        if "graph" in changes and (broken := shape_problems(changes["graph"])):
            return jsonify(problems=problem_rows(broken)), 422
        try:
            saved = service.update_draft(project, journey.id, actor=current_actor(), **changes)
        except ServiceError as exc:
            db.session.rollback()
            return jsonify(problems=problems_json(exc)), 422
        # Saved; what would still stop publishing is shown on its step straight away.
        return jsonify(
            saved=True, before_publish=problem_rows(service.draft_problems(project, saved))
        )

    @expose("/<journey_id>/publish", methods=("GET", "POST"))
    def publish(self, journey_id: str) -> ResponseReturnValue:
        """POST: publish the saved draft as a new version, or say what stops it."""
        journey = self._get(journey_id)
        if journey is None:
            return jsonify(problems=[{"step": None, "message": "No such journey."}]), 404
        if request.method != "POST":
            return redirect(url_for(".builder", journey_id=journey.id))
        try:
            version = service.publish_journey(current_project(), journey.id, actor=current_actor())
        except ServiceError as exc:
            db.session.rollback()
            return jsonify(problems=problems_json(exc)), 422
        flash(f"“{journey.name}” version {version.number} is published and running.", "success")
        return jsonify(published=version.number, url=url_for(".builder", journey_id=journey.id))

    @expose("/<journey_id>/control", methods=("GET", "POST"))
    def control(self, journey_id: str) -> ResponseReturnValue:
        """POST pause, resume or stop; a GET changes nothing."""
        journey = self._get(journey_id)
        if journey is None:
            return redirect(url_for(".index"))
        verb = request.form.get("verb", "")
        if request.method == "POST" and verb in CONTROLS:
            act, done = CONTROLS[verb]
            try:
                act(current_project(), journey.id, actor=current_actor())
                flash(f"“{journey.name}” is {done}.", "success")
            except ServiceError as exc:
                db.session.rollback()
                flash(f"{journey.name}: {exc}", "error")
        return redirect(url_for(".builder", journey_id=journey.id))

    @expose("/<journey_id>/add", methods=("GET", "POST"))
    def add_contacts(self, journey_id: str) -> ResponseReturnValue:
        """POST: start the running journey now for one contact or a segment's contacts."""
        journey = self._get(journey_id)
        if journey is None:
            abort(404)
        contact_id, segment_id = (
            request.form.get("contact_id", ""),
            request.form.get("segment_id", ""),
        )
        back = url_for(".builder", journey_id=journey.id)
        if contact_id.isdigit():
            back = url_for(".walk", journey_id=journey.id, contact_id=contact_id)
        if request.method != "POST" or not (contact_id.isdigit() or segment_id.isdigit()):
            return redirect(back)
        targets: list[int] | int = [int(contact_id)] if contact_id.isdigit() else int(segment_id)
        try:
            entered = enroll(current_project(), journey.id, targets, actor=current_actor())
        except ServiceError as exc:
            db.session.rollback()
            flash(f"Nobody was added: {exc}.", "error")
            return redirect(back)
        if entered:
            flash(
                f"{entered:,} {'contact' if entered == 1 else 'contacts'} entered the journey.",
                "success",
            )
        else:
            flash(NOBODY_ENTERED, "warning")
        return redirect(back)

    @expose("/<journey_id>/walk")
    def walk(self, journey_id: str) -> ResponseReturnValue:
        """Pick a contact (search by email or name) and see the path they would take."""
        journey = self._get(journey_id)
        if journey is None:
            abort(404)
        return self.render(
            "admin/journey_walk.html",
            **walk_page(
                current_project(),
                journey,
                query=request.args.get("q", "").strip(),
                contact_id=request.args.get("contact_id", ""),
            ),
            can_send=has_permission(SEND),
        )
