"""Contacts: single and bulk upserts, edits, lookups, deletion and quarantine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.addresses import InvalidContact, clean_contact, normalize_email
from mailapp.audience.contact_upserts import UpsertCounts, bulk_upsert
from mailapp.audience.statistics import refresh_statistics
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Contact,
    DuplicatePolicy,
)

MAX_BULK = 1000


def upsert_contact(
    project_id: int,
    data: dict[str, Any],
    *,
    actor: Actor,
    policy: DuplicatePolicy = DuplicatePolicy.UPDATE,
    source: str = "api",
) -> tuple[Contact, bool]:
    """Create or update one contact by email; returns it and whether it was created."""
    row = clean_contact(data)
    counts = bulk_upsert(project_id, [row], policy=policy, source=source)
    if counts.suppressed:
        raise ServiceError(f"{row['email']} is suppressed and cannot be added or changed")
    contact = db.session.get(Contact, counts.ids[row["email"]])
    db.session.refresh(contact)
    record_audit(
        actor,
        "contact.create" if counts.created else "contact.update",
        project_id=project_id,
        obj=contact,
        context={"source": source},
    )
    db.session.commit()
    return contact, bool(counts.created)


def update_contact(
    project_id: int, contact_id: int, data: dict[str, Any], *, actor: Actor
) -> Contact:
    """Edit one contact's address and profile, validated as any other write.

    Status and quality history stay with their own services; a changed address gets its
    quality labels again and must not belong to another contact of the project.
    """
    contact = get_contact(project_id, contact_id)
    row = clean_contact({**data, "attributes": contact.attributes})
    if row["email"] != contact.email and db.session.scalar(
        sa.select(Contact.id).where(Contact.project_id == project_id, Contact.email == row["email"])
    ):
        raise InvalidContact(f"another contact already has the address {row['email']}", "email")
    fields = ["first_name", "last_name", "timezone", "locale"]
    if row["email"] != contact.email:  # the same address typed again keeps its raw form
        fields += ["email", "email_raw", "is_role_address", "is_disposable"]
    changed = sorted(name for name in fields if getattr(contact, name) != row[name])
    for name in changed:
        setattr(contact, name, row[name])
    record_audit(
        actor, "contact.update", project_id=project_id, obj=contact, context={"changed": changed}
    )
    db.session.commit()
    return contact


@dataclass
class BulkResult:
    counts: UpsertCounts
    errors: list[dict[str, Any]]  # {"index": i, "error": "..."} for refused items


def upsert_contacts(
    project_id: int,
    items: Sequence[dict[str, Any]],
    *,
    actor: Actor,
    policy: DuplicatePolicy = DuplicatePolicy.UPDATE,
    source: str = "api",
) -> BulkResult:
    """Bulk upsert of up to MAX_BULK contacts; invalid items are reported, the rest written."""
    if len(items) > MAX_BULK:
        raise ServiceError(f"at most {MAX_BULK} contacts per call ({len(items)} given)")
    rows, errors = [], []
    for index, item in enumerate(items):
        try:
            rows.append(clean_contact(item if isinstance(item, dict) else {}))
        except InvalidContact as exc:
            errors.append({"index": index, "error": str(exc)})
    counts = bulk_upsert(project_id, rows, policy=policy, source=source)
    errors += [{"email": e, "error": "suppressed"} for e in counts.suppressed]
    record_audit(
        actor,
        "contact.bulk_upsert",
        project_id=project_id,
        context={
            "created": counts.created,
            "updated": counts.updated,
            "skipped": counts.skipped,
            "invalid": len(errors),
        },
    )
    db.session.commit()
    # The next audience reading is planned for the tables as they are now.
    refresh_statistics(written=counts.created + counts.updated)
    return BulkResult(counts, errors)


def get_contact(project_id: int, contact_id: int) -> Contact:
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.project_id == project_id, Contact.id == contact_id)
    )
    if contact is None:
        raise NotFound("no such contact")
    return contact


def find_contact(project_id: int, email: str) -> Contact:
    """A contact by address, normalized the way it was stored."""
    address = normalize_email(email).email
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.project_id == project_id, Contact.email == address)
    )
    if contact is None:
        raise NotFound(f"no contact {address}")
    return contact


def delete_contact(project_id: int, contact_id: int, *, actor: Actor) -> None:
    """Delete a contact and its memberships (suppression entries stay)."""
    contact = get_contact(project_id, contact_id)
    record_audit(actor, "contact.delete", project_id=project_id, obj=contact)
    db.session.delete(contact)
    db.session.commit()


def set_quarantine(project_id: int, contact_ids: Iterable[int], on: bool, *, actor: Actor) -> int:
    """Put contacts into (or release them from) quarantine; returns how many changed."""
    ids = list(contact_ids)
    result = db.session.execute(
        sa.update(Contact)
        .where(Contact.project_id == project_id, Contact.id.in_(ids), Contact.quarantined != on)
        .values(quarantined=on)
    )
    record_audit(
        actor,
        "contact.quarantine" if on else "contact.release",
        project_id=project_id,
        context={"count": result.rowcount},
    )
    db.session.commit()
    return result.rowcount


def quarantine_soft_bouncers(project_id: int, limit: int, *, actor: Actor) -> int:
    """Quarantine every contact with at least `limit` soft bounces, in one statement."""
    result = db.session.execute(
        sa.update(Contact)
        .where(
            Contact.project_id == project_id,
            Contact.soft_bounces >= limit,
            Contact.quarantined.is_(False),
        )
        .values(quarantined=True)
    )
    record_audit(
        actor,
        "contact.quarantine_soft_bouncers",
        project_id=project_id,
        context={"count": result.rowcount, "limit": limit},
    )
    db.session.commit()
    return result.rowcount
