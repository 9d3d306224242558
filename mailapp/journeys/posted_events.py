"""Events another system posts about a contact (`POST /api/v1/events`): stored durably, once
per idempotency key; the events trigger scan reads them to start and wake journeys.

Nothing is sent from here: the row is the whole of accepting an event, so a crash after the
answer loses nothing and a replay of the same key writes nothing new.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mailapp.audience.suppression import normalize_address
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Contact, JourneyEvent, Project
from mailapp.models.base import utcnow

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
NAME_WORDS = "1-100 letters, digits, '_', '.', ':' or '-', starting with a letter or digit"
MAX_DATA_BYTES = 16_384
KEY_LENGTH = 255


class EventKeyReused(ServiceError):
    """The idempotency key names an earlier event with another contact, name or data."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different event "
            "(another contact, name or data); use a new key for a new event"
        )


def _contact_id(project: Project, contact_id: int | None, email: str | None) -> int:
    query = sa.select(Contact.id).where(Contact.project_id == project.id)
    if contact_id is not None:
        query = query.where(Contact.id == contact_id)
    elif email:
        query = query.where(Contact.email == normalize_address(email))
    else:
        raise ServiceError("name the contact: email or contact_id")
    found = db.session.scalar(query)
    if found is None:
        raise NotFound("no such contact in this project")
    return found


def _same(event: JourneyEvent, contact_id: int, name: str, data: dict) -> bool:
    return (event.contact_id, event.name, event.data or {}) == (contact_id, name, data)


def _existing(project_id: int, key: str) -> JourneyEvent | None:
    return db.session.scalar(
        sa.select(JourneyEvent).where(
            JourneyEvent.project_id == project_id, JourneyEvent.idempotency_key == key
        )
    )


def record_event(
    project: Project,
    name: str,
    *,
    contact_id: int | None = None,
    email: str | None = None,
    data: dict | None = None,
    idempotency_key: str | None = None,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[JourneyEvent, bool]:
    """Store one event; (the first event, False) when its idempotency key was seen before."""
    now = now or utcnow()
    data = data or {}
    if not isinstance(name, str) or not NAME.match(name):
        raise ServiceError(f"name: {NAME_WORDS}")
    if not isinstance(data, dict):
        raise ServiceError("data: a JSON object")
    if len(json.dumps(data, default=str)) > MAX_DATA_BYTES:
        raise ServiceError(f"data: at most {MAX_DATA_BYTES} bytes of JSON")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= KEY_LENGTH:
        raise ServiceError(f"idempotency_key: 1-{KEY_LENGTH} characters")
    contact = _contact_id(project, contact_id, email)
    if idempotency_key and (found := _existing(project.id, idempotency_key)):
        if not _same(found, contact, name, data):
            raise EventKeyReused(idempotency_key)
        return found, False
    event = JourneyEvent(
        project_id=project.id,
        contact_id=contact,
        name=name,
        data=data,
        idempotency_key=idempotency_key,
        occurred_at=occurred_at or now,
        created_at=now,
    )
    db.session.add(event)
    try:
        db.session.flush()
    except IntegrityError:
        # The same key raced us: the first request's event is the answer.
        db.session.rollback()
        found = _existing(project.id, idempotency_key or "")
        if found is None:
            raise
        if not _same(found, contact, name, data):
            raise EventKeyReused(idempotency_key or "") from None
        return found, False
    # No audit entry: an event is the customer's data arriving, like a tracked open, not an
    # act on the project; the row itself is the record.
    db.session.commit()
    return event, True
