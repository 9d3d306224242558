"""The audit log: one append-only entry per mutating service call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mailapp.extensions import db
from mailapp.models import AuditLog

# Context keys whose values never reach the log, whatever service passes them.
SECRET_KEYS = frozenset(
    {"password", "password_hash", "secret", "dkim_private_key", "transport_url", "key", "key_hash"}
)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, an API key, or the system itself."""

    label: str
    user_id: int | None = None
    api_key_id: int | None = None
    ip: str | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label=label)


def record_audit(
    actor: Actor,
    action: str,
    *,
    project_id: int | None,
    obj: Any = None,
    context: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit entry to the current transaction (committed with the change it records)."""
    entry = AuditLog(
        project_id=project_id,
        actor=actor.label,
        actor_user_id=actor.user_id,
        actor_api_key_id=actor.api_key_id,
        ip=actor.ip,
        action=action,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=str(obj.id) if getattr(obj, "id", None) is not None else None,
        context=redact(context or {}),
    )
    db.session.add(entry)
    return entry


def redact(context: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ("***" if k in SECRET_KEYS else redact(v) if isinstance(v, dict) else v)
        for k, v in context.items()
    }


@sa.event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context: Any, instances: Any) -> None:
    """The log is append-only: no code path may rewrite or delete an entry."""
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditLog) and (obj in session.deleted or session.is_modified(obj)):
            raise PermissionError("audit log entries are append-only")


def record_refusal(
    actor: Actor, action: str, *, project_id: int | None, context: dict[str, Any]
) -> None:
    """Log a refused sensitive request (forbidden page or action, bad API key) at once.

    The refused request changes nothing else, so this entry is committed on its own.
    """
    record_audit(actor, action, project_id=project_id, context=context)
    db.session.commit()
