"""What the segment builder offers in its dropdowns for one project: its lists, its tags, and
the contact attributes its contacts carry, each with a kind guessed from the values seen.

Attributes are read from a sample of the newest contacts (one indexed, limited query), not
from every contact: with a million contacts a full scan of their JSON would take seconds.
Keys that existing segments use are added, so editing one never loses its field.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import Contact, ContactTag, List, Segment

SAMPLE = 1000
MAX_TAGS = 500
MAX_SUGGESTIONS = 25
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Built-in text fields whose common values help a marketer (never names or addresses).
SUGGESTED_COLUMNS = ("locale", "timezone", "source")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "attribute_boolean"
    if isinstance(value, int | float):
        return "attribute_number"
    if isinstance(value, str) and ISO_DATE.match(value):
        return "attribute_date"
    return "attribute_text"


def _rule_kind(condition: dict) -> str:
    """The kind a saved condition treats its attribute as."""
    if condition.get("op") in ("before", "after"):
        return "attribute_date"
    if condition.get("op") in ("gt", "gte", "lt", "lte"):
        return "attribute_number"
    value = condition.get("value")
    return _kind(value) if not isinstance(value, str) and value is not None else "attribute_text"


def _rule_keys(node: Any) -> dict[str, str]:
    """Attribute keys a rule uses, each with the kind its condition gives it."""
    if isinstance(node, list):
        return {k: v for child in node for k, v in _rule_keys(child).items()}
    if not isinstance(node, dict):
        return {}
    if isinstance(field := node.get("field"), str) and field.startswith("attributes."):
        return {field.removeprefix("attributes."): _rule_kind(node)}
    return _rule_keys(node.get("all") or node.get("any") or node.get("not"))


def attribute_choices(project_id: int) -> list[dict[str, Any]]:
    """Attribute keys with their guessed kind and common values, most used first."""
    rows = db.session.execute(
        sa.select(Contact.attributes)
        .where(Contact.project_id == project_id)
        .order_by(Contact.id.desc())
        .limit(SAMPLE)
    ).all()
    seen: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    values: dict[str, Counter[str]] = defaultdict(Counter)
    for (attributes,) in rows:
        for key, value in (attributes or {}).items() if isinstance(attributes, dict) else ():
            if value is None or isinstance(value, dict | list):
                continue
            seen[key] += 1
            kinds[key][_kind(value)] += 1
            if isinstance(value, str) and len(value) <= 80:
                values[key][value] += 1
    for rule in db.session.scalars(sa.select(Segment.rule).where(Segment.project_id == project_id)):
        for key, kind in _rule_keys(rule).items():
            if key not in seen:
                seen[key] = 0
                kinds[key][kind] += 1
    return [
        {
            "key": key,
            # One text value among numbers makes it text: text operators still work.
            "kind": "attribute_text"
            if len(kinds[key]) > 1
            else next(iter(kinds[key]), "attribute_text"),
            "values": [v for v, _ in values[key].most_common(MAX_SUGGESTIONS)],
        }
        for key, _ in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def column_suggestions(project_id: int) -> dict[str, list[str]]:
    """Common values of locale, time zone and source among the newest contacts."""
    sample = (
        sa.select(*(getattr(Contact, c) for c in SUGGESTED_COLUMNS))
        .where(Contact.project_id == project_id)
        .order_by(Contact.id.desc())
        .limit(SAMPLE)
    )
    counters: dict[str, Counter[str]] = {c: Counter() for c in SUGGESTED_COLUMNS}
    for row in db.session.execute(sample):
        for column, value in zip(SUGGESTED_COLUMNS, row, strict=True):
            if value:
                counters[column][value] += 1
    return {c: [v for v, _ in n.most_common(MAX_SUGGESTIONS)] for c, n in counters.items()}


def builder_choices(project_id: int) -> dict[str, Any]:
    """Everything the builder's dropdowns list for this project."""
    lists = db.session.execute(
        sa.select(List.id, List.name).where(List.project_id == project_id).order_by(List.name)
    ).all()
    return {
        "lists": [{"id": i, "name": n} for i, n in lists],
        "tags": tag_choices(project_id),
        "attributes": attribute_choices(project_id),
        "suggestions": column_suggestions(project_id),
    }


def tag_choices(project_id: int) -> list[str]:
    """The project's distinct tags, in order, by hopping from one to the next in the
    (project_id, tag) index: a GROUP BY would read every tagged contact's row."""
    in_project = ContactTag.project_id == project_id
    hops = (
        sa.select(sa.func.min(ContactTag.tag).label("tag"))
        .where(in_project)
        .cte("tags", recursive=True)
    )
    following = sa.select(sa.func.min(ContactTag.tag)).where(
        in_project, ContactTag.tag > hops.c.tag
    )
    hops = hops.union_all(sa.select(following.scalar_subquery()).where(hops.c.tag.is_not(None)))
    found = sa.select(hops.c.tag).where(hops.c.tag.is_not(None)).limit(MAX_TAGS)
    return list(db.session.scalars(found))
