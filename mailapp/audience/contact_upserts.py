"""Bulk contact writes: set-based upserts under a duplicate policy, for both databases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mailapp.audience.suppression import filter_unsuppressed
from mailapp.extensions import db
from mailapp.models import (
    Contact,
    ContactStatus,
    DuplicatePolicy,
)
from mailapp.models.base import utcnow
from mailapp.upserts import dialect, in_values, insert_for, json_merge

PROFILE_FIELDS = ("first_name", "last_name", "timezone", "locale")


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
    connection = db.session.connection().connection.driver_connection
    copy_sql = f"COPY contact_upsert_rows ({', '.join(names)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
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
