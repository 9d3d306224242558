"""The suppression list: once an address is here, nothing is sent to it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import Contact, ContactStatus, Suppression, SuppressionReason
from mailapp.services import NotFound
from mailapp.services.audit import Actor, record_audit

# The contact status a suppression reason implies (manual entries leave the status alone).
STATUS_FOR_REASON = {
    SuppressionReason.UNSUBSCRIBE: ContactStatus.UNSUBSCRIBED,
    SuppressionReason.HARD_BOUNCE: ContactStatus.BOUNCED,
    SuppressionReason.SOFT_BOUNCE: ContactStatus.BOUNCED,
    SuppressionReason.COMPLAINT: ContactStatus.COMPLAINED,
    SuppressionReason.ERASURE: ContactStatus.ERASED,
}


def normalize_address(email: str) -> str:
    """The form suppression matches on: trimmed, lower-cased."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    return hashlib.sha256(normalize_address(email).encode()).hexdigest()


def is_suppressed(project_id: int, email: str) -> bool:
    return bool(
        db.session.scalar(
            sa.select(Suppression.id).where(
                Suppression.project_id == project_id, Suppression.email_hash == email_hash(email)
            )
        )
    )


def suppressed_hashes(project_id: int) -> sa.Select:
    """A subquery of the project's suppressed hashes, for set-based exclusion."""
    return sa.select(Suppression.email_hash).where(Suppression.project_id == project_id)


def suppress(
    project_id: int,
    email: str,
    reason: SuppressionReason,
    *,
    actor: Actor,
    source: str | None = None,
    event_id: int | None = None,
    note: str | None = None,
    commit: bool = True,
) -> Suppression:
    """Suppress an address (idempotent: the first reason stays) and mark its contact."""
    address = normalize_address(email)
    digest = email_hash(address)
    entry = db.session.scalar(
        sa.select(Suppression).where(
            Suppression.project_id == project_id, Suppression.email_hash == digest
        )
    )
    created = entry is None
    if created:
        entry = Suppression(
            project_id=project_id,
            email=address,
            email_hash=digest,
            reason=reason,
            source=source,
            event_id=event_id,
            note=note,
            created_by_id=actor.user_id,
        )
        db.session.add(entry)
        db.session.flush()
    status = STATUS_FOR_REASON.get(reason)
    if status is not None:
        db.session.execute(
            sa.update(Contact)
            .where(
                Contact.project_id == project_id,
                Contact.email == address,
                Contact.status == ContactStatus.ACTIVE,
            )
            .values(status=status)
        )
    if created:
        record_audit(
            actor,
            "suppression.add",
            project_id=project_id,
            obj=entry,
            context={"reason": reason.value, "source": source},
        )
    if commit:
        db.session.commit()
    return entry


def unsuppress(project_id: int, entry_id: int, *, actor: Actor) -> None:
    """Remove a manual entry or one an operator decided to lift (audited)."""
    entry = db.session.scalar(
        sa.select(Suppression).where(
            Suppression.project_id == project_id, Suppression.id == entry_id
        )
    )
    if entry is None:
        raise NotFound("no such suppression entry")
    record_audit(
        actor,
        "suppression.remove",
        project_id=project_id,
        obj=entry,
        context={"reason": entry.reason.value},
    )
    db.session.delete(entry)
    db.session.commit()


def filter_unsuppressed(project_id: int, emails: Iterable[str]) -> set[str]:
    """The given addresses that are not suppressed, in one query."""
    by_hash = {email_hash(e): normalize_address(e) for e in emails}
    if not by_hash:
        return set()
    found = set(
        db.session.scalars(
            sa.select(Suppression.email_hash).where(
                Suppression.project_id == project_id, Suppression.email_hash.in_(by_hash)
            )
        )
    )
    return {address for digest, address in by_hash.items() if digest not in found}
