"""Contacts: normalization, quality labels, upserts (single and bulk) and the detail view."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa
from disposable_email_domains import blocklist as disposable_domains
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from mailapp.extensions import db
from mailapp.models import (
    Contact,
    DuplicatePolicy,
)
from mailapp.services import NotFound, ServiceError
from mailapp.services.audit import Actor, record_audit
from mailapp.services.contact_upserts import UpsertCounts, bulk_upsert

MAX_BULK = 1000
# Shared mailboxes read by whoever is on duty: consent is rarely theirs to give.
ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse", "admin", "administrator", "billing", "contact", "help", "hello", "hostmaster",
        "info", "jobs", "marketing", "no-reply", "noc", "noreply", "office", "postmaster",
        "privacy", "root", "sales", "security", "support", "team", "webmaster",
    }
)  # fmt: skip
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_LOCAL = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*")
PLAIN_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


class InvalidContact(ServiceError):
    """One field of a contact is unusable; the message says why, `field` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Address:
    email: str  # normalized: trimmed, domain lower-cased (the local part is the owner's)
    raw: str
    is_role: bool
    is_disposable: bool


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _plain_address(given: str) -> tuple[str, str] | None:
    """(local, domain) of a plain ASCII address email-validator would accept as it is.

    email-validator costs ~50 us an address (IDNA tables); most addresses are plain ASCII
    that these strict patterns settle in about a microsecond (the domain check is cached,
    as a file holds few distinct domains). Anything else (Unicode, quoting, xn-- labels,
    odd TLDs, special-use domains, long parts) goes to email-validator, which also words
    every refusal. tests/services/test_contacts.py proves the subset on tricky addresses.
    """
    local, at, domain = given.rpartition("@")
    if not at or len(local) > 64 or len(given) > 254 or not PLAIN_LOCAL.fullmatch(local):
        return None
    plain = _plain_domain(domain)
    return None if plain is None else (local, plain)


@lru_cache(maxsize=65536)
def _plain_domain(domain: str) -> str | None:
    if len(domain) > 253 or not PLAIN_DOMAIN.fullmatch(domain):
        return None
    labels = domain.lower().split(".")
    if any(label[2:4] == "--" for label in labels) or labels[-1] in SPECIAL_USE_DOMAIN_NAMES:
        return None
    return ".".join(labels)


def normalize_email(raw: str, *, check_deliverability: bool = False) -> Address:
    """Validate and normalize an address, with its quality labels; else InvalidContact."""
    given = (raw or "").strip()
    if not given:
        raise InvalidContact("email is empty", "email")
    plain = None if check_deliverability else _plain_address(given)
    if plain is None:
        try:
            result = validate_email(given, check_deliverability=check_deliverability)
        except EmailNotValidError as exc:
            raise InvalidContact(f"invalid email {given!r}: {exc}", "email") from None
        plain = result.normalized.rpartition("@")[::2]
    local, domain = plain[0], plain[1].lower()
    return Address(
        email=f"{local}@{domain}",
        raw=given,
        is_role=local.lower() in ROLE_LOCAL_PARTS,
        is_disposable=domain in disposable_domains,
    )


def validate_timezone(name: str | None) -> str | None:
    """An IANA zone name (or None); else InvalidContact."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if name not in _zones():
        raise InvalidContact(
            f"time zone {name!r} is not an IANA zone name (e.g. Europe/Berlin)", "timezone"
        )
    return name


def clean_contact(data: dict[str, Any]) -> dict[str, Any]:
    """A row ready for bulk_upsert from loose input (API body, CSV row); else InvalidContact."""
    address = normalize_email(str(data.get("email") or ""))
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidContact("attributes must be an object")
    row: dict[str, Any] = {
        "email": address.email,
        "email_raw": address.raw,
        "is_role_address": address.is_role,
        "is_disposable": address.is_disposable,
        "attributes": attributes,
        "timezone": validate_timezone(data.get("timezone")),
    }
    for name in ("first_name", "last_name", "locale"):
        value = data.get(name)
        row[name] = str(value).strip()[:200] or None if value is not None else None
    if row["locale"] and len(row["locale"]) > 16:
        raise InvalidContact(f"locale {row['locale']!r} is too long", "locale")
    return row


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
