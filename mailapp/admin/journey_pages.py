"""What the journey pages show: the list's rows, the builder's data (the draft, the pickers,
each step's counts and report link), a refusal's problems, and one contact's walk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import url_for

from mailapp.admin.display import viewer_zone
from mailapp.admin.journey_words import (
    builder_choices,
    outcome_words,
    project_names,
    status_words,
    step_words,
    trigger_words,
)
from mailapp.delivery.backing import backing_campaigns
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.journeys import journeys as service
from mailapp.models import (
    OPEN_ENROLLMENTS,
    Contact,
    Enrollment,
    JourneyVersion,
    List,
    Project,
    Sender,
    Template,
)
from mailapp.models.base import utcnow

SEARCH_LIMIT = 10


def _published_at(project: Project) -> dict[int, Any]:
    rows = db.session.execute(
        sa.select(JourneyVersion.id, JourneyVersion.published_at).where(
            JourneyVersion.project_id == project.id
        )
    ).all()
    return dict(rows)


def index_rows(project: Project) -> list[dict[str, Any]]:
    """One row per journey: name, status and trigger in words, enrolled and still-in counts."""
    still_in = sa.func.sum(sa.case((Enrollment.status.in_(OPEN_ENROLLMENTS), 1), else_=0))
    counts = {
        journey_id: (total, int(active or 0))
        for journey_id, total, active in db.session.execute(
            sa.select(Enrollment.journey_id, sa.func.count(), still_in)
            .where(Enrollment.project_id == project.id)
            .group_by(Enrollment.journey_id)
        )
    }
    names, published = project_names(project.id), _published_at(project)
    rows = []
    for journey in service.project_journeys(project):
        total, active = counts.get(journey.id, (0, 0))
        rows.append(
            {
                "journey": journey,
                "status": status_words(journey, published.get(journey.published_version_id)),
                "trigger": trigger_words(journey.trigger, names),
                "enrolled": total,
                "active": active,
            }
        )
    return rows


def starter_defaults(project_id: int) -> dict[str, int | None]:
    """The project's first published template, sender and list, for a starter's blanks."""

    def first(column: Any, *where: Any) -> int | None:
        return db.session.scalar(sa.select(column).where(*where).order_by(column).limit(1))

    return {
        "template_id": first(
            Template.id,
            Template.project_id == project_id,
            Template.published_version_id.is_not(None),
        ),
        "sender_id": first(Sender.id, Sender.project_id == project_id),
        "list_id": first(List.id, List.project_id == project_id),
    }


def _report_urls(journey: Any) -> dict[str, str]:
    """Email step key -> its backing campaign's report, for the published version."""
    if journey.published_version_id is None:
        return {}
    steps = backing_campaigns(journey.published_version_id)
    return {key: url_for("analytics.campaign", campaign_id=i) for key, i in steps.items() if key}


def _published_graph(journey: Any) -> dict:
    if journey.published_version_id is None:
        return {}
    return db.session.get(JourneyVersion, journey.published_version_id).graph or {}


def builder_page(project: Project, journey: Any) -> dict[str, Any]:
    """The builder's template arguments and the JSON its script starts from."""
    published = journey.published_version_id is not None
    counts = service.step_counts(project, journey.id) if published else {}
    return {
        "journey": journey,
        "status": status_words(journey, _published_at(project).get(journey.published_version_id)),
        "status_code": getattr(journey.status, "value", journey.status),
        "data": {
            "name": journey.name,
            "trigger": journey.trigger or {"type": "manual"},
            "graph": journey.graph or {"start": None, "steps": {}},
            "settings": journey.settings or {"reentry": "once", "goal": None},
            "published": published,
            "published_steps": sorted(_published_graph(journey).get("steps") or {}),
            "counts": counts,
            "reports": _report_urls(journey),
            "choices": builder_choices(project.id),
        },
    }


SETTINGS_WORDS = ("re-entry", "say after how many days", "a goal", "goal:", "settings")


def _card(step: str | None, message: str) -> str | None:
    """The card a problem belongs on: its step, else the trigger or the journey's rules."""
    if step:
        return step
    if message.startswith("the trigger"):
        return "trigger"
    return "settings" if message.startswith(SETTINGS_WORDS) else None


def problem_rows(problems: list[Any]) -> list[dict[str, Any]]:
    """Problems as [{step, message}] for the builder, each on the card it is about."""
    rows = []
    for p in problems:
        message = getattr(p, "message", None) or str(p)
        rows.append({"step": _card(getattr(p, "step", None), message), "message": message})
    return rows


def problems_json(exc: ServiceError) -> list[dict[str, Any]]:
    """A refusal as [{step, message}]; a refusal without problems is one general message."""
    problems = getattr(exc, "problems", None) or []
    return problem_rows(problems) if problems else [{"step": None, "message": str(exc)}]


def find_contacts(project: Project, query: str) -> list[Contact]:
    """Up to ten of the project's contacts whose email or name contains the query."""
    if not query:
        return []
    like = f"%{query.lower()}%"
    return list(
        db.session.scalars(
            sa.select(Contact)
            .where(
                Contact.project_id == project.id,
                sa.or_(
                    Contact.email.like(like),
                    sa.func.lower(Contact.first_name).like(like),
                    sa.func.lower(Contact.last_name).like(like),
                ),
            )
            .order_by(Contact.email)
            .limit(SEARCH_LIMIT)
        )
    )


def _contact(project: Project, contact_id: str) -> Contact | None:
    if not contact_id.isdigit():
        return None
    return db.session.scalar(
        sa.select(Contact).where(Contact.project_id == project.id, Contact.id == int(contact_id))
    )


def walk_page(project: Project, journey: Any, *, query: str, contact_id: str) -> dict[str, Any]:
    """The walk page's arguments: search results, the chosen contact and their path."""
    contact = _contact(project, contact_id)
    path, problem = [], None
    if contact is not None and journey.published_version_id is None:
        problem = "Publish the journey first: the walk follows its published version."
    elif contact is not None:
        try:
            path = _walk_rows(
                project, journey, service.walk(project, journey.id, contact.id, now=utcnow())
            )
        except ServiceError as exc:
            problem = str(exc)
    inside = None
    if contact is not None:
        inside = db.session.scalar(
            sa.select(Enrollment.entered_at).where(
                Enrollment.project_id == project.id,
                Enrollment.journey_id == journey.id,
                Enrollment.contact_id == contact.id,
                Enrollment.status.in_(OPEN_ENROLLMENTS),
            )
        )
    zone = viewer_zone()
    if contact is not None and contact.timezone:
        zone = _zone(contact.timezone) or zone
    return {
        "journey": journey,
        "query": query,
        "found": find_contacts(project, query),
        "contact": contact,
        "path": path,
        "problem": problem,
        "inside_since": inside,
        "zone": zone.key,
        "when": lambda at: _in_zone(at, zone),
    }


def _walk_rows(project: Project, journey: Any, path: list[Any]) -> list[dict[str, Any]]:
    """Each WalkStep as the page shows it: the step in words, when, why, and if it happened."""
    graph, names = _published_graph(journey), project_names(project.id)
    rows = []
    for ws in path:
        what = step_words(ws.step, graph, names, ws.type)
        why = outcome_words(what, ws.type, ws.outcome, ws.done)
        rows.append({"what": what, "at": ws.at, "why": why, "done": ws.done})
    return rows


def _in_zone(at: datetime | None, zone: ZoneInfo) -> str:
    """A moment in the contact's zone (where the journey times its steps)."""
    if at is None:
        return ""
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)
    return f"{local.strftime('%a %-d %b %Y, %H:%M')} {local.tzname()}"


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
