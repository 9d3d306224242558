"""Projects (tenants) and the accounts that own them."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.records import changed_fields
from mailapp.access.validation import FieldChecker
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Account, Project
from mailapp.models.bounce_reason import DEFAULT_BOUNCE_ACTIONS

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

DEFAULT_SETTINGS = {
    "tracking": "full",  # full | anonymous | off
    "quiet_hours": None,  # {"start": "21:00", "end": "08:00"} in the contact's zone
    "frequency_cap_7d": None,  # marketing messages per contact per rolling 7 days
    "quota_messages_per_day": None,
    "quota_import_rows_per_day": None,
    "soft_bounce_limit": 3,
    "soft_bounce_window_days": 30,
    "retry_hours": None,  # how long deferred mail is retried; None: the server's (5 days)
    "event_retention_days": 400,
    "allow_self_approval": False,  # may a template's author publish their own draft?
    # What a bounce does to the address, per reason: suppress, count (soft limit) or record.
    "bounce_actions": dict(DEFAULT_BOUNCE_ACTIONS),
}


def create_project(
    slug: str, *, name: str | None = None, timezone: str = "UTC", actor: Actor
) -> Project:
    """Create a project (and its account) under a unique slug."""
    if not SLUG_RE.match(slug):
        raise ServiceError(
            f"project slug {slug!r}: use 1-64 lower-case letters, digits and inner hyphens"
        )
    if timezone not in available_timezones():
        raise ServiceError(f"time zone {timezone!r} is not an IANA zone name")
    if db.session.scalar(sa.select(Project.id).where(Project.slug == slug)):
        raise ServiceError(f"project {slug!r} already exists")
    account = Account(name=name or slug)
    project = Project(
        account=account,
        slug=slug,
        name=name or slug,
        timezone=timezone,
        settings=dict(DEFAULT_SETTINGS),
    )
    db.session.add(project)
    db.session.flush()
    record_audit(
        actor, "project.create", project_id=project.id, obj=project, context={"slug": slug}
    )
    db.session.commit()
    return project


PROFILE_FIELDS = ("name", "timezone", "postal_address")
MAX_ADDRESS_CHARS = 500


def update_project(project: Project, values: dict[str, Any], *, actor: Actor) -> Project:
    """Change a project's name, time zone or postal address (every bad field named), audited."""
    check = FieldChecker()
    for name in sorted(set(values) - set(PROFILE_FIELDS)):
        check.fail(name, "not a field of a project")
    changes: dict[str, Any] = {}
    if "name" in values:
        name = str(values["name"] or "").strip()
        if not name or len(name) > 200:
            check.fail("name", "1 to 200 characters")
        changes["name"] = name
    if "timezone" in values:
        if values["timezone"] not in available_timezones():
            check.fail("timezone", "an IANA zone name, e.g. Europe/Berlin")
        changes["timezone"] = values["timezone"]
    if "postal_address" in values:
        address = str(values["postal_address"] or "").strip() or None
        if address and len(address) > MAX_ADDRESS_CHARS:
            check.fail("postal_address", f"at most {MAX_ADDRESS_CHARS} characters")
        changes["postal_address"] = address
    check.raise_if_any()
    for name, value in changes.items():
        setattr(project, name, value)
    changed = changed_fields(project)
    if changed:
        record_audit(
            actor,
            "project.update",
            project_id=project.id,
            obj=project,
            context={"changed": changed},
        )
    db.session.commit()
    return project


def get_project_by_slug(slug: str) -> Project:
    project = db.session.scalar(sa.select(Project).where(Project.slug == slug))
    if project is None:
        raise NotFound(f"no project {slug!r}")
    return project
