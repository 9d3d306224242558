"""Lists and memberships: per-list status, bulk add/remove by ids or by segment."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Contact,
    List,
    ListMemberCount,
    ListMembership,
    MembershipStatus,
    OptIn,
)
from mailapp.models.base import utcnow
from mailapp.upserts import insert_for


def create_list(
    project_id: int,
    name: str,
    *,
    actor: Actor,
    opt_in: OptIn = OptIn.SINGLE,
    is_public: bool = False,
    description: str | None = None,
    consent_text: str | None = None,
    consent_version: str | None = None,
) -> List:
    """Create a list with its own unguessable subscribe-form token."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ServiceError("a list name has 1-200 characters")
    mailing_list = List(
        project_id=project_id,
        name=name,
        description=description,
        opt_in=opt_in,
        is_public=is_public,
        token=secrets.token_urlsafe(16),
        consent_text=consent_text,
        consent_version=consent_version,
    )
    db.session.add(mailing_list)
    db.session.flush()
    record_audit(
        actor, "list.create", project_id=project_id, obj=mailing_list, context={"name": name}
    )
    db.session.commit()
    return mailing_list


def get_list(project_id: int, list_id: int) -> List:
    found = db.session.scalar(
        sa.select(List).where(List.project_id == project_id, List.id == list_id)
    )
    if found is None:
        raise NotFound("no such list")
    return found


def get_list_by_token(token: str) -> List:
    found = db.session.scalar(sa.select(List).where(List.token == token))
    if found is None:
        raise NotFound("no such list")
    return found


def add_memberships(
    project_id: int, list_id: int, contacts: sa.Select, status: MembershipStatus
) -> int:
    """INSERT ... SELECT the contact ids `contacts` yields (no commit, no audit)."""
    now = utcnow()
    confirmed_at = now if status is MembershipStatus.CONFIRMED else None
    source = contacts.subquery()
    select = sa.select(
        sa.literal(project_id),
        sa.literal(list_id),
        source.c[0],
        sa.literal(status.value),
        sa.literal(confirmed_at, type_=ListMembership.__table__.c.confirmed_at.type),
        sa.literal(now, type_=ListMembership.__table__.c.created_at.type),
    ).where(sa.true())  # SQLite needs a WHERE to tell ON CONFLICT from a join's ON
    stmt = (
        insert_for(ListMembership)
        .from_select(
            ["project_id", "list_id", "contact_id", "status", "confirmed_at", "created_at"],
            select,
        )
        .on_conflict_do_nothing()
    )
    joining = sa.select(sa.func.count()).select_from(
        sa.select(source.c[0])
        .where(
            ~sa.exists().where(
                ListMembership.list_id == list_id, ListMembership.contact_id == source.c[0]
            )
        )
        .subquery()
    )
    # Counted apart: PostgreSQL reports no rowcount for this INSERT ... SELECT through psycopg.
    added = db.session.scalar(joining)
    db.session.execute(stmt)
    return added


def add_contacts(
    project_id: int,
    list_id: int,
    contact_ids: Iterable[int],
    *,
    actor: Actor,
    status: MembershipStatus = MembershipStatus.CONFIRMED,
) -> int:
    """Add contacts to a list (already-members keep their status); returns how many joined."""
    get_list(project_id, list_id)
    ids = sa.select(Contact.id).where(
        Contact.project_id == project_id, Contact.id.in_(list(contact_ids))
    )
    added = add_memberships(project_id, list_id, ids, status)
    record_audit(
        actor,
        "list.add_contacts",
        project_id=project_id,
        context={"list_id": list_id, "added": added},
    )
    db.session.commit()
    return added


def remove_contacts(
    project_id: int, list_id: int, contact_ids: Iterable[int], *, actor: Actor
) -> int:
    """Remove contacts from a list entirely; returns how many left."""
    get_list(project_id, list_id)
    result = db.session.execute(
        sa.delete(ListMembership).where(
            ListMembership.project_id == project_id,
            ListMembership.list_id == list_id,
            ListMembership.contact_id.in_(list(contact_ids)),
        )
    )
    record_audit(
        actor,
        "list.remove_contacts",
        project_id=project_id,
        context={"list_id": list_id, "removed": result.rowcount},
    )
    db.session.commit()
    return result.rowcount


def set_membership_status(
    project_id: int,
    list_id: int,
    contact_ids: Iterable[int],
    status: MembershipStatus,
    *,
    actor: Actor,
) -> int:
    """Move memberships to a status (e.g. unsubscribed from this list only)."""
    get_list(project_id, list_id)
    now = utcnow()
    values: dict = {"status": status}
    if status is MembershipStatus.CONFIRMED:
        values["confirmed_at"] = now
    elif status is MembershipStatus.UNSUBSCRIBED:
        values["unsubscribed_at"] = now
    result = db.session.execute(
        sa.update(ListMembership)
        .where(
            ListMembership.project_id == project_id,
            ListMembership.list_id == list_id,
            ListMembership.contact_id.in_(list(contact_ids)),
            ListMembership.status != status,
        )
        .values(**values)
    )
    record_audit(
        actor,
        "list.set_status",
        project_id=project_id,
        context={"list_id": list_id, "status": status.value, "count": result.rowcount},
    )
    db.session.commit()
    return result.rowcount


def list_counts(
    project_id: int, list_ids: Iterable[int] | None = None
) -> dict[int, dict[str, int]]:
    """Members per list and status (of `list_ids` only, when given), as the database keeps
    them (`ListMemberCount`): a read of a few rows however many members a list has."""
    query = sa.select(ListMemberCount.list_id, ListMemberCount.status, ListMemberCount.count).where(
        ListMemberCount.project_id == project_id, ListMemberCount.count != 0
    )
    if list_ids is not None:
        query = query.where(ListMemberCount.list_id.in_(list(list_ids)))
    counts: dict[int, dict[str, int]] = {}
    for list_id, status, count in db.session.execute(query):
        counts.setdefault(list_id, {})[status.value] = count
    return counts


def project_lists(project_id: int) -> list[List]:
    return list(
        db.session.scalars(sa.select(List).where(List.project_id == project_id).order_by(List.id))
    )
