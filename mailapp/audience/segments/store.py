"""Segments: stored rules counted, re-counted (who entered, who left), frozen into lists and
added to them.

The rule format and its compiler live in `segments.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience import lists
from mailapp.audience.segments.rules import compile_rule, validate_rule
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Contact,
    ContactStatus,
    MembershipStatus,
    OptIn,
    Segment,
    SegmentMember,
    Suppression,
)
from mailapp.models.base import utcnow
from mailapp.upserts import dialect, insert_for


def segment_query(project_id: int, rule: Any, *, include_quarantined: bool = False) -> sa.Select:
    """SELECT contacts.id matching the rule: active, unsuppressed, not quarantined by default."""
    query = sa.select(Contact.id).where(
        Contact.project_id == project_id,
        Contact.status == ContactStatus.ACTIVE,
        compile_rule(project_id, rule, dialect()),
        ~sa.exists().where(
            Suppression.project_id == project_id,
            Suppression.email_hash == Contact.email_hash,
        ),
    )
    if not include_quarantined:
        query = query.where(Contact.quarantined.is_(False))
    return query


def count_rule(project_id: int, rule: Any, *, include_quarantined: bool = False) -> int:
    """The live count of a rule (the builder calls this while the rule is edited)."""
    query = segment_query(project_id, rule, include_quarantined=include_quarantined)
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))


def get_segment(project_id: int, segment_id: int) -> Segment:
    segment = db.session.scalar(
        sa.select(Segment).where(Segment.project_id == project_id, Segment.id == segment_id)
    )
    if segment is None:
        raise NotFound("no such segment")
    return segment


def project_segments(project_id: int) -> list[Segment]:
    """The project's segments, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Segment).where(Segment.project_id == project_id).order_by(Segment.id)
        )
    )


def delete_segment(project_id: int, segment_id: int, *, actor: Actor) -> None:
    """Delete a segment no open campaign targets (its rule goes; contacts are untouched)."""
    segment = get_segment(project_id, segment_id)
    in_use = lists.open_campaigns_using(project_id, segment_id=segment_id)
    if in_use:
        raise ServiceError(
            f"{segment.name} is the audience of {len(in_use)} open campaign(s) "
            f"({', '.join(in_use[:3])}): change their audience or end them first"
        )
    record_audit(
        actor, "segment.delete", project_id=project_id, obj=segment, context={"name": segment.name}
    )
    db.session.delete(segment)
    db.session.commit()


def save_segment(
    project_id: int,
    name: str,
    rule: Any,
    *,
    actor: Actor,
    segment_id: int | None = None,
    description: str | None = None,
) -> Segment:
    """Create a segment, or change one's name and rule, after validating the rule; counts it,
    so the segment list shows how many contacts it holds from the start."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ServiceError("Name: a segment needs a name of 1-200 characters.")
    validate_rule(rule)
    segment = get_segment(project_id, segment_id) if segment_id else Segment(project_id=project_id)
    segment.name, segment.rule, segment.description = name, rule, (description or None)
    segment.last_count, segment.last_counted_at = count_rule(project_id, rule), utcnow()
    db.session.add(segment)
    db.session.flush()
    record_audit(
        actor,
        "segment.update" if segment_id else "segment.create",
        project_id=project_id,
        obj=segment,
        context={"name": name, "count": segment.last_count},
    )
    db.session.commit()
    return segment


@dataclass(frozen=True)
class Recount:
    count: int
    entered: int
    left: int


def recount_segment(project_id: int, segment_id: int, *, actor: Actor) -> Recount:
    """Count a segment now and say how many entered and left since the last count."""
    segment = get_segment(project_id, segment_id)
    matching = segment_query(project_id, segment.rule).subquery()
    members = sa.select(SegmentMember.contact_id).where(SegmentMember.segment_id == segment.id)
    left = db.session.execute(
        sa.delete(SegmentMember).where(
            SegmentMember.segment_id == segment.id,
            SegmentMember.contact_id.not_in(sa.select(matching.c.id)),
        )
    ).rowcount
    newcomers = sa.select(sa.literal(project_id), sa.literal(segment.id), matching.c.id).where(
        matching.c.id.not_in(members)
    )
    # Counted apart: PostgreSQL reports no rowcount for this INSERT ... SELECT through psycopg.
    entered = db.session.scalar(sa.select(sa.func.count()).select_from(newcomers.subquery()))
    db.session.execute(
        insert_for(SegmentMember).from_select(["project_id", "segment_id", "contact_id"], newcomers)
    )
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(SegmentMember)
        .where(SegmentMember.segment_id == segment.id)
    )
    segment.last_count, segment.last_counted_at = count, utcnow()
    record_audit(
        actor,
        "segment.recount",
        project_id=project_id,
        obj=segment,
        context={"count": count, "entered": entered, "left": left},
    )
    db.session.commit()
    return Recount(count, entered, left)


def freeze_segment(project_id: int, segment_id: int, list_name: str, *, actor: Actor):
    """A static list holding the segment's contacts as of now."""
    segment = get_segment(project_id, segment_id)
    snapshot = lists.create_list(
        project_id,
        list_name,
        actor=actor,
        opt_in=OptIn.SINGLE,
        description=f"Snapshot of segment {segment.name!r} taken {utcnow():%Y-%m-%d %H:%M} UTC",
    )
    added = lists.add_memberships(
        project_id, snapshot.id, segment_query(project_id, segment.rule), MembershipStatus.CONFIRMED
    )
    record_audit(
        actor,
        "segment.freeze",
        project_id=project_id,
        obj=segment,
        context={"list_id": snapshot.id, "contacts": added},
    )
    db.session.commit()
    return snapshot


def add_segment(project_id: int, list_id: int, segment_id: int, *, actor: Actor) -> int:
    """Add every contact a segment matches now to a list (confirmed); returns how many joined."""
    lists.get_list(project_id, list_id)
    segment = get_segment(project_id, segment_id)
    added = lists.add_memberships(
        project_id, list_id, segment_query(project_id, segment.rule), MembershipStatus.CONFIRMED
    )
    record_audit(
        actor,
        "list.add_segment",
        project_id=project_id,
        context={"list_id": list_id, "segment_id": segment_id, "added": added},
    )
    db.session.commit()
    return added
