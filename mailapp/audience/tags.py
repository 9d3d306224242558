"""Contact tags: free-form labels that segments can select on, added and removed in bulk."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.contacts import get_contact
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Contact, ContactTag
from mailapp.models.base import UTCDateTime, utcnow
from mailapp.upserts import in_values, insert_for

MAX_TAG_LENGTH = 100


def clean_tag(tag: str | None) -> str:
    tag = (tag or "").strip()
    if not tag or len(tag) > MAX_TAG_LENGTH:
        raise ServiceError(f"a tag has 1-{MAX_TAG_LENGTH} characters")
    return tag


def tag_contacts(project_id: int, contact_ids: Iterable[int], tag: str, *, actor: Actor) -> int:
    """Add a tag to the project's contacts among `contact_ids`; returns how many gained it."""
    tag = clean_tag(tag)
    ids = list(contact_ids)
    tagged = db.session.execute(
        insert_for(ContactTag)
        .from_select(
            ["project_id", "contact_id", "tag", "created_at"],
            sa.select(
                sa.literal(project_id),
                Contact.id,
                sa.literal(tag),
                sa.literal(utcnow(), UTCDateTime()),
            ).where(Contact.project_id == project_id, in_values(Contact.id, ids, sa.BigInteger)),
        )
        .on_conflict_do_nothing()
        .returning(ContactTag.__table__.c.contact_id)
    ).all()
    record_audit(
        actor, "contact.tag", project_id=project_id, context={"tag": tag, "count": len(tagged)}
    )
    db.session.commit()
    return len(tagged)


def untag_contacts(project_id: int, contact_ids: Iterable[int], tag: str, *, actor: Actor) -> int:
    """Remove a tag from the project's contacts among `contact_ids`; returns how many lost it."""
    tag = clean_tag(tag)
    result = db.session.execute(
        sa.delete(ContactTag).where(
            ContactTag.project_id == project_id,
            ContactTag.tag == tag,
            in_values(ContactTag.contact_id, list(contact_ids), sa.BigInteger),
        )
    )
    record_audit(
        actor,
        "contact.untag",
        project_id=project_id,
        context={"tag": tag, "count": result.rowcount},
    )
    db.session.commit()
    return result.rowcount


def contact_tags(project_id: int, contact_id: int) -> list[str]:
    """One contact's tags, sorted (NotFound for another project's contact)."""
    get_contact(project_id, contact_id)
    return list(
        db.session.scalars(
            sa.select(ContactTag.tag)
            .where(ContactTag.project_id == project_id, ContactTag.contact_id == contact_id)
            .order_by(ContactTag.tag)
        )
    )


def set_contact_tags(
    project_id: int, contact_id: int, tags: Iterable[str], *, actor: Actor
) -> list[str]:
    """Make a contact's tags exactly `tags` (the edit box on the contact page)."""
    wanted = {clean_tag(t) for t in tags}
    current = set(contact_tags(project_id, contact_id))
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if removed:
        db.session.execute(
            sa.delete(ContactTag).where(
                ContactTag.project_id == project_id,
                ContactTag.contact_id == contact_id,
                ContactTag.tag.in_(removed),
            )
        )
    if added:
        db.session.execute(
            insert_for(ContactTag).on_conflict_do_nothing(),
            [{"project_id": project_id, "contact_id": contact_id, "tag": t} for t in added],
        )
    record_audit(
        actor,
        "contact.set_tags",
        project_id=project_id,
        obj=get_contact(project_id, contact_id),
        context={"added": added, "removed": removed},
    )
    db.session.commit()
    return sorted(wanted)


def project_tags(project_id: int) -> list[tuple[str, int]]:
    """Every tag in use in the project with how many contacts carry it."""
    rows = db.session.execute(
        sa.select(ContactTag.tag, sa.func.count())
        .where(ContactTag.project_id == project_id)
        .group_by(ContactTag.tag)
        .order_by(ContactTag.tag)
    )
    return [(tag, count) for tag, count in rows]
