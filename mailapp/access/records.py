"""Plain edits made in the back office's generic forms: saved and audited in one transaction.

Aggregates with their own rules (contacts, campaigns, templates ...) have their own modules;
this one serves the declarative views whose forms map one-to-one onto a row.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.errors import NotFound
from mailapp.extensions import db


def object_name(obj: Any) -> str:
    """`WebhookEndpoint` -> `webhook_endpoint`, the prefix of its audit actions."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(obj).__name__).lower()


def changed_fields(obj: Any) -> list[str]:
    """Names of the column attributes changed since the object was loaded (never values)."""
    state = sa.inspect(obj)
    return sorted(
        attr.key
        for attr in state.mapper.column_attrs
        if state.attrs[attr.key].history.has_changes()
    )


def _check_project(obj: Any, project_id: int | None) -> None:
    if project_id is not None and getattr(obj, "project_id", project_id) != project_id:
        raise NotFound("no such object in this project")


def create_record(obj: Any, *, project_id: int | None, actor: Actor) -> Any:
    """Insert a row built from a form, in the given project."""
    if project_id is not None and hasattr(obj, "project_id"):
        obj.project_id = project_id
    fields = changed_fields(obj)
    db.session.add(obj)
    db.session.flush()
    record_audit(
        actor,
        f"{object_name(obj)}.create",
        project_id=project_id,
        obj=obj,
        context={"fields": fields},
    )
    db.session.commit()
    return obj


def update_record(obj: Any, *, project_id: int | None, actor: Actor) -> list[str]:
    """Save a form's changes to a row; returns the changed field names (none: no entry)."""
    _check_project(obj, project_id)
    changed = changed_fields(obj)
    if changed:
        record_audit(
            actor,
            f"{object_name(obj)}.update",
            project_id=project_id,
            obj=obj,
            context={"changed": changed},
        )
        db.session.commit()
    return changed


def delete_record(obj: Any, *, project_id: int | None, actor: Actor) -> None:
    """Delete a row of the given project."""
    _check_project(obj, project_id)
    record_audit(actor, f"{object_name(obj)}.delete", project_id=project_id, obj=obj)
    db.session.delete(obj)
    db.session.commit()
