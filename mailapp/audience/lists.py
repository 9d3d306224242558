"""Lists and memberships: per-list status, bulk add/remove by ids or by segment."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.records import update_record
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    ConsentRecord,
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


# What the back office's list form edits; the subscribe-form token is never changed.
EDITABLE = ("name", "description", "opt_in", "is_public", "consent_text", "consent_version")
# Campaigns that may still resolve their audience: a list or segment they name must stay.
OPEN_CAMPAIGNS = tuple(set(CampaignStatus) - {CampaignStatus.SENT, CampaignStatus.CANCELLED})


def update_list(project_id: int, list_id: int, values: Mapping[str, Any], *, actor: Actor) -> List:
    """Change a list's settings (the keys given); audited with the names of what changed."""
    mailing_list = get_list(project_id, list_id)
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise ServiceError(f"a list has no field {', '.join(unknown)}")
    if "name" in values:
        name = (values["name"] or "").strip()
        if not name or len(name) > 200:
            raise ServiceError("a list name has 1-200 characters")
        mailing_list.name = name
    if "opt_in" in values:
        mailing_list.opt_in = OptIn(values["opt_in"])
    if "is_public" in values:
        mailing_list.is_public = bool(values["is_public"])
    for field in ("description", "consent_text", "consent_version"):
        if field in values:
            setattr(mailing_list, field, values[field] or None)
    update_record(mailing_list, project_id=project_id, actor=actor)
    return mailing_list


def open_campaigns_using(
    project_id: int, *, list_id: int | None = None, segment_id: int | None = None
) -> list[str]:
    """Names of the draft, scheduled, sending or paused campaigns whose audience names it."""
    rows = db.session.execute(
        sa.select(Campaign.name, Campaign.audience)
        .where(Campaign.project_id == project_id, Campaign.status.in_(OPEN_CAMPAIGNS))
        .order_by(Campaign.id)
    )
    # The audience is JSON (both databases): open campaigns are few, so read them.
    using = []
    for name, audience in rows:
        audience = audience or {}
        named = {int(i) for i in audience.get("lists") or []}
        segment = audience.get("segment_id")
        if list_id in named or (segment is not None and int(segment) == segment_id):
            using.append(name)
    return using


def delete_list(project_id: int, list_id: int, *, actor: Actor) -> None:
    """Delete a list no open campaign uses. Its memberships go; consent records stay (they
    are evidence), and the audit entry keeps the list's name and member counts."""
    mailing_list = get_list(project_id, list_id)
    in_use = open_campaigns_using(project_id, list_id=list_id)
    if in_use:
        raise ServiceError(
            f"{mailing_list.name} is the audience of {len(in_use)} open campaign(s) "
            f"({', '.join(in_use[:3])}): change their audience or end them first"
        )
    consents = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ConsentRecord)
        .where(ConsentRecord.project_id == project_id, ConsentRecord.list_id == list_id)
    )
    record_audit(
        actor,
        "list.delete",
        project_id=project_id,
        obj=mailing_list,
        context={
            "name": mailing_list.name,
            "members": list_counts(project_id, [list_id]).get(list_id, {}),
            "consent_records_kept": consents,
        },
    )
    db.session.delete(mailing_list)
    db.session.commit()


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
