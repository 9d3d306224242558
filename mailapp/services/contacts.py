"""Contacts: normalization, quality labels, upserts (single and bulk) and the detail view."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa
from disposable_email_domains import blocklist as disposable_domains
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from mailapp.extensions import db
from mailapp.models import (
    ConsentRecord,
    Contact,
    ContactStatus,
    ContactTag,
    DuplicatePolicy,
    Event,
    List,
    ListMembership,
    Suppression,
)
from mailapp.models.base import utcnow
from mailapp.services import NotFound, ServiceError
from mailapp.services.audit import Actor, record_audit
from mailapp.services.suppression import email_hash, filter_unsuppressed
from mailapp.services.upserts import dialect, in_values, insert_for, json_merge

MAX_BULK = 1000
# Shared mailboxes read by whoever is on duty: consent is rarely theirs to give.
ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse", "admin", "administrator", "billing", "contact", "help", "hello", "hostmaster",
        "info", "jobs", "marketing", "no-reply", "noc", "noreply", "office", "postmaster",
        "privacy", "root", "sales", "security", "support", "team", "webmaster",
    }
)  # fmt: skip
PROFILE_FIELDS = ("first_name", "last_name", "timezone", "locale")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_ADDRESS = re.compile(
    rf"^(?P<local>[A-Za-z0-9_%+-]{{1,64}}(?:\.[A-Za-z0-9_%+-]{{1,64}})*)"
    rf"@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})$"
)


class InvalidContact(ServiceError):
    """One field of a contact is unusable; the message says which and why."""


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
    that this strict pattern settles. Anything else (Unicode, quoting, xn-- labels, odd
    TLDs, special-use domains) goes to email-validator, which also words every refusal.
    """
    match = PLAIN_ADDRESS.match(given)
    if match is None or len(given) > 254:
        return None
    local, domain = match["local"], match["domain"].lower()
    labels = domain.split(".")
    if any(label[2:4] == "--" for label in labels) or labels[-1] in SPECIAL_USE_DOMAIN_NAMES:
        return None
    return local, domain


def normalize_email(raw: str, *, check_deliverability: bool = False) -> Address:
    """Validate and normalize an address, with its quality labels; else InvalidContact."""
    given = (raw or "").strip()
    if not given:
        raise InvalidContact("email is empty")
    plain = None if check_deliverability else _plain_address(given)
    if plain is None:
        try:
            result = validate_email(given, check_deliverability=check_deliverability)
        except EmailNotValidError as exc:
            raise InvalidContact(f"invalid email {given!r}: {exc}") from None
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
        raise InvalidContact(f"time zone {name!r} is not an IANA zone name (e.g. Europe/Berlin)")
    return name


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    # normalized email -> contact id, for every row written or found (not skipped ones)
    ids: dict[str, int] = field(default_factory=dict)
    suppressed: list[str] = field(default_factory=list)
    # addresses already written at or after `touched_since`: repeats within one import
    repeated: list[str] = field(default_factory=list)


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
        raise InvalidContact(f"locale {row['locale']!r} is too long")
    return row


def bulk_upsert(
    project_id: int,
    rows: Sequence[dict[str, Any]],
    *,
    policy: DuplicatePolicy = DuplicatePolicy.UPDATE,
    source: str | None = None,
    touched_since: datetime | None = None,
) -> UpsertCounts:
    """Insert or merge cleaned rows in a few set-based statements (no commit, no audit).

    Suppressed addresses are left out entirely, so nothing here re-activates one; the
    caller reports them. Existing contacts keep their status whatever the policy. With
    `touched_since`, contacts written since then are left alone and listed as repeated:
    an import finds the duplicates inside its file without keeping every address in memory.
    """
    counts = UpsertCounts()
    by_email = {row["email"]: row for row in rows}  # the last row for an address wins
    allowed = filter_unsuppressed(project_id, by_email)
    counts.suppressed = [e for e in by_email if e.lower() not in allowed]
    for email in counts.suppressed:
        del by_email[email]
    if not by_email:
        return counts
    existing: dict[str, int] = {}
    for email, contact_id, updated_at in db.session.execute(
        sa.select(Contact.email, Contact.id, Contact.updated_at).where(
            Contact.project_id == project_id, in_values(Contact.email, by_email, sa.Text)
        )
    ):
        if touched_since is not None and updated_at >= touched_since:
            counts.repeated.append(email)
            del by_email[email]
        else:
            existing[email] = contact_id
    if not by_email:
        return counts
    now = utcnow()
    values = [
        {
            "project_id": project_id,
            "email": email,
            "email_raw": row["email_raw"],
            "status": ContactStatus.ACTIVE,
            "first_name": row.get("first_name"),
            "last_name": row.get("last_name"),
            "attributes": row.get("attributes") or {},
            "timezone": row.get("timezone"),
            "locale": row.get("locale"),
            "source": source,
            "is_role_address": row["is_role_address"],
            "is_disposable": row["is_disposable"],
            "quarantined": row["is_role_address"] or row["is_disposable"],
            "soft_bounces": 0,
            "created_at": now,
            "updated_at": now,
        }
        for email, row in by_email.items()
        if not (policy is DuplicatePolicy.SKIP and email in existing)
    ]
    stmt = insert_for(Contact)
    if policy is DuplicatePolicy.SKIP:
        stmt = stmt.on_conflict_do_nothing(index_elements=["project_id", "email"])
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "email"], set_=_merge_set(stmt.excluded, policy)
        )
    if values:
        _write_rows(stmt, values)
    counts.skipped = len(by_email) - len(values)
    counts.updated = sum(1 for v in values if v["email"] in existing)
    counts.created = len(values) - counts.updated
    counts.ids = dict(
        db.session.execute(
            sa.select(Contact.email, Contact.id).where(
                Contact.project_id == project_id, in_values(Contact.email, by_email, sa.Text)
            )
        ).all()
    )
    return counts


STAGING = sa.table(
    "contact_upsert_rows",
    *[sa.column(n, sa.Text) for n in ("email", "email_raw", "first_name", "last_name")],
    *[sa.column(n, sa.Text) for n in ("timezone", "locale", "attributes")],
    sa.column("is_role_address", sa.Boolean),
    sa.column("is_disposable", sa.Boolean),
)
STAGING_DDL = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS contact_upsert_rows (email text, email_raw text, "
    "first_name text, last_name text, timezone text, locale text, attributes text, "
    "is_role_address boolean, is_disposable boolean) ON COMMIT DELETE ROWS"
)


def _write_rows(stmt: Any, values: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... SELECT.

    COPY is PostgreSQL's fastest way in, and the upsert stays one set-based statement;
    other databases get an executemany of the same INSERT ... ON CONFLICT.
    """
    if dialect() != "postgresql":
        db.session.execute(stmt, values)
        return
    names = [c.name for c in STAGING.columns]
    db.session.execute(sa.text(STAGING_DDL))
    db.session.execute(sa.delete(STAGING))
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY contact_upsert_rows ({', '.join(names)}) FROM STDIN") as copy:
        for v in values:
            copy.write_row(
                (v["email"], v["email_raw"], v["first_name"], v["last_name"], v["timezone"],
                 v["locale"], json.dumps(v["attributes"]), v["is_role_address"],
                 v["is_disposable"])
            )  # fmt: skip
    first, table, u = values[0], Contact.__table__.c, STAGING.c
    columns = {
        "project_id": sa.literal(first["project_id"]),
        "status": sa.literal(ContactStatus.ACTIVE.value),
        "attributes": sa.cast(u.attributes, table.attributes.type),
        "source": sa.literal(first["source"], sa.String),
        "quarantined": sa.or_(u.is_role_address, u.is_disposable),
        "soft_bounces": sa.literal(0),
        "created_at": sa.literal(first["created_at"], table.created_at.type),
        "updated_at": sa.literal(first["updated_at"], table.updated_at.type),
    } | {name: u[name] for name in names if name != "attributes"}
    db.session.execute(stmt.from_select(list(columns), sa.select(*columns.values())))


def _merge_set(excluded: Any, policy: DuplicatePolicy) -> dict[str, Any]:
    table = Contact.__table__.c
    if policy is DuplicatePolicy.FILL_EMPTY:
        merged = {name: sa.func.coalesce(table[name], excluded[name]) for name in PROFILE_FIELDS}
        merged["attributes"] = json_merge(excluded.attributes, table.attributes)
    else:  # update: given values win, missing ones keep what is there
        merged = {name: sa.func.coalesce(excluded[name], table[name]) for name in PROFILE_FIELDS}
        merged["attributes"] = json_merge(table.attributes, excluded.attributes)
    merged["email_raw"] = excluded.email_raw
    merged["updated_at"] = excluded.updated_at
    return merged


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


@dataclass
class ContactDetail:
    contact: Contact
    tags: list[str]
    memberships: list[tuple[ListMembership, str]]  # (membership, list name)
    consents: list[ConsentRecord]
    suppression: Suppression | None
    events: list[Event]


def contact_detail(project_id: int, contact_id: int, *, events_limit: int = 200) -> ContactDetail:
    """Everything support staff need to answer "why did I get this?"."""
    contact = get_contact(project_id, contact_id)
    memberships = db.session.execute(
        sa.select(ListMembership, List.name)
        .join(List, List.id == ListMembership.list_id)
        .where(ListMembership.project_id == project_id, ListMembership.contact_id == contact.id)
        .order_by(List.name)
    ).all()
    return ContactDetail(
        contact=contact,
        tags=list(
            db.session.scalars(
                sa.select(ContactTag.tag)
                .where(ContactTag.project_id == project_id, ContactTag.contact_id == contact.id)
                .order_by(ContactTag.tag)
            )
        ),
        memberships=[(m, name) for m, name in memberships],
        consents=list(
            db.session.scalars(
                sa.select(ConsentRecord)
                .where(
                    ConsentRecord.project_id == project_id,
                    ConsentRecord.contact_id == contact.id,
                )
                .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
            )
        ),
        suppression=db.session.scalar(
            sa.select(Suppression).where(
                Suppression.project_id == project_id,
                Suppression.email_hash == email_hash(contact.email),
            )
        ),
        events=list(
            db.session.scalars(
                sa.select(Event)
                .where(Event.project_id == project_id, Event.contact_id == contact.id)
                .order_by(Event.occurred_at.desc(), Event.id.desc())
                .limit(events_limit)
            )
        ),
    )


def tag_contacts(project_id: int, contact_ids: Iterable[int], tag: str, *, actor: Actor) -> None:
    """Add a tag to contacts (set-based; already tagged ones are left alone)."""
    tag = tag.strip()
    if not tag or len(tag) > 100:
        raise ServiceError("a tag has 1-100 characters")
    ids = db.session.scalars(
        sa.select(Contact.id).where(Contact.project_id == project_id, Contact.id.in_(contact_ids))
    ).all()
    if ids:
        db.session.execute(
            insert_for(ContactTag).on_conflict_do_nothing(),
            [{"project_id": project_id, "contact_id": i, "tag": tag} for i in ids],
        )
    record_audit(
        actor, "contact.tag", project_id=project_id, context={"tag": tag, "count": len(ids)}
    )
    db.session.commit()


def list_contacts(
    project_id: int,
    *,
    after_id: int = 0,
    limit: int = 100,
    status: ContactStatus | None = None,
    list_id: int | None = None,
    email_contains: str | None = None,
) -> list[Contact]:
    """A page of contacts ordered by id (keyset pagination: pass the last id seen)."""
    query = sa.select(Contact).where(Contact.project_id == project_id, Contact.id > after_id)
    if status is not None:
        query = query.where(Contact.status == status)
    if list_id is not None:
        query = query.where(
            sa.exists().where(
                ListMembership.contact_id == Contact.id, ListMembership.list_id == list_id
            )
        )
    if email_contains:
        query = query.where(Contact.email.contains(email_contains.strip(), autoescape=True))
    return list(db.session.scalars(query.order_by(Contact.id).limit(min(max(limit, 1), 1000))))
