"""The suppression list: once an address is here, nothing is sent to it."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.addresses import InvalidContact, normalize_email
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import Contact, ContactStatus, Suppression, SuppressionReason
from mailapp.models.base import utcnow
from mailapp.upserts import in_values, insert_for

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


def list_suppressions(
    project_id: int,
    *,
    after_id: int = 0,
    limit: int = 100,
    reason: SuppressionReason | None = None,
    source: str | None = None,
    email_contains: str | None = None,
    email: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Suppression]:
    """A page of entries ordered by id (keyset pagination: pass the last id seen).

    `email` matches one address exactly, by its hash, so it finds erased entries too."""
    query = sa.select(Suppression).where(
        Suppression.project_id == project_id, Suppression.id > after_id
    )
    if reason is not None:
        query = query.where(Suppression.reason == reason)
    if source:
        query = query.where(Suppression.source == source)
    if email_contains:
        part = normalize_address(email_contains)
        query = query.where(Suppression.email.contains(part, autoescape=True))
    if email:
        query = query.where(Suppression.email_hash == email_hash(email))
    if since is not None:
        query = query.where(Suppression.created_at >= since)
    if until is not None:
        query = query.where(Suppression.created_at < until)
    return list(db.session.scalars(query.order_by(Suppression.id).limit(min(max(limit, 1), 1000))))


def filter_unsuppressed(project_id: int, emails: Iterable[str]) -> set[str]:
    """The given addresses that are not suppressed, in one query."""
    by_hash = {email_hash(e): normalize_address(e) for e in emails}
    if not by_hash:
        return set()
    found = set(
        db.session.scalars(
            sa.select(Suppression.email_hash).where(
                Suppression.project_id == project_id,
                in_values(Suppression.email_hash, by_hash, sa.Text),
            )
        )
    )
    return {address for digest, address in by_hash.items() if digest not in found}


def lift(project_id: int, email: str) -> bool:
    """Drop an address's entry because its owner freshly confirmed consent (caller audits)."""
    result = db.session.execute(
        sa.delete(Suppression).where(
            Suppression.project_id == project_id, Suppression.email_hash == email_hash(email)
        )
    )
    return bool(result.rowcount)


HEADER_NAMES = ("email", "e-mail", "address", "email address")


@dataclass
class SuppressionImport:
    added: int = 0
    already: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def import_suppressions(
    project_id: int,
    text: IO[str],
    *,
    actor: Actor,
    reason: SuppressionReason = SuppressionReason.MANUAL,
    source: str = "csv import",
    batch_rows: int = 5000,
) -> SuppressionImport:
    """Suppress every address of a CSV (a column named email, else the first), in batches."""
    sample = text.read(64 * 1024)
    text.seek(0)
    first = sample.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(text, delimiter=delimiter)
    result = SuppressionImport()
    column, batch = 0, {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        names = [c.strip().lower().lstrip("\ufeff") for c in cells]
        if line == 1 and (header := [i for i, n in enumerate(names) if n in HEADER_NAMES]):
            column = header[0]
            continue
        try:
            given = cells[column] if column < len(cells) else ""
            address = normalize_address(normalize_email(given).email)
        except InvalidContact as exc:
            result.invalid.append((line, str(exc)))
            continue
        batch[email_hash(address)] = address
        if len(batch) >= batch_rows:
            _suppress_batch(project_id, batch, reason, source, actor, result)
            batch = {}
    if batch:
        _suppress_batch(project_id, batch, reason, source, actor, result)
    record_audit(
        actor,
        "suppression.import",
        project_id=project_id,
        context={"added": result.added, "already": result.already, "invalid": len(result.invalid)},
    )
    db.session.commit()
    return result


def _suppress_batch(
    project_id: int,
    batch: dict[str, str],
    reason: SuppressionReason,
    source: str,
    actor: Actor,
    result: SuppressionImport,
) -> None:
    known = set(
        db.session.scalars(
            sa.select(Suppression.email_hash).where(
                Suppression.project_id == project_id, Suppression.email_hash.in_(batch)
            )
        )
    )
    now = utcnow()
    rows = [
        {"project_id": project_id, "email": address, "email_hash": digest, "reason": reason.value,
         "source": source, "created_by_id": actor.user_id, "created_at": now}
        for digest, address in batch.items()
        if digest not in known
    ]  # fmt: skip
    if rows:
        db.session.execute(insert_for(Suppression).on_conflict_do_nothing(), rows)
        status = STATUS_FOR_REASON.get(reason)
        if status is not None:
            db.session.execute(
                sa.update(Contact)
                .where(
                    Contact.project_id == project_id,
                    sa.func.lower(Contact.email).in_([r["email"] for r in rows]),
                    Contact.status == ContactStatus.ACTIVE,
                )
                .values(status=status)
            )
    result.added += len(rows)
    result.already += len(batch) - len(rows)
