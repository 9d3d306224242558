"""What a segment condition can test: each field's kind, and for each kind the operators it
allows with the words a marketer reads and the value it takes.

One table for the builder (which offers only these) and the compiler (which refuses anything
else), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Operator:
    """An operator as the builder offers it: `value` names the input it needs."""

    op: str
    label: str
    # text, texts (comma-separated), number, date, days, boolean, list, tag, or none
    value: str
    # Still valid in saved rules, no longer offered for new conditions.
    offered: bool = True


def _ops(*rows: tuple[Any, ...]) -> tuple[Operator, ...]:
    return tuple(Operator(*row) for row in rows)


_TEXT = _ops(
    ("eq", "is", "text"),
    ("neq", "is not", "text"),
    ("contains", "contains", "text"),
    ("starts_with", "starts with", "text"),
    ("ends_with", "ends with", "text"),
    ("in", "is one of", "texts"),
    ("is_set", "is filled in", "none"),
    ("is_not_set", "is empty", "none"),
)
_NUMBER = _ops(
    ("eq", "is", "number"),
    ("neq", "is not", "number"),
    ("gt", "is more than", "number"),
    ("gte", "is at least", "number"),
    ("lt", "is less than", "number"),
    ("lte", "is at most", "number"),
)
_PRESENCE = _ops(("is_set", "is filled in", "none"), ("is_not_set", "is empty", "none"))

KIND_OPERATORS: dict[str, tuple[Operator, ...]] = {
    "text": _TEXT,
    "number": _NUMBER,
    # When something happened (signed up, last opened, ...): a timestamp column.
    "activity": _ops(
        ("within_days", "in the last", "days"),
        ("not_within_days", "not in the last (or never)", "days"),
        ("before", "before", "date"),
        ("after", "after", "date"),
        ("is_set", "ever", "none"),
        ("is_not_set", "never", "none"),
    ),
    # Every contact has a signup date: no "ever"/"never".
    "signup": _ops(
        ("within_days", "in the last", "days"),
        ("not_within_days", "before the last", "days"),
        ("before", "before", "date"),
        ("after", "after", "date"),
    ),
    "attribute_text": _TEXT,
    "attribute_number": _NUMBER + _PRESENCE,
    "attribute_date": _ops(("before", "is before", "date"), ("after", "is after", "date"))
    + _PRESENCE,
    "attribute_boolean": _ops(("eq", "is", "boolean"), ("neq", "is not", "boolean")),
    "list": _ops(("in", "is subscribed to", "list"), ("not_in", "is not subscribed to", "list")),
    "tag": _ops(("has", "has", "tag"), ("has_not", "does not have", "tag")),
    "engagement": _ops(
        ("opened_or_clicked_within_days", "opened or clicked in the last", "days"),
        # Hard-bounced contacts are never mailed, so no segment count ever includes them.
        ("hard_bounced", "hard-bounced", "none", False),
    ),
}
ATTRIBUTE_KINDS = ("attribute_text", "attribute_number", "attribute_date", "attribute_boolean")


@dataclass(frozen=True)
class Field:
    """A built-in field the builder lists under `group`."""

    field: str
    label: str
    kind: str
    group: str
    hint: str = ""


FIELDS: tuple[Field, ...] = (
    Field("email", "Email address", "text", "Contact"),
    Field("first_name", "First name", "text", "Contact"),
    Field("last_name", "Last name", "text", "Contact"),
    Field("locale", "Language (locale)", "text", "Contact"),
    Field("timezone", "Time zone", "text", "Contact"),
    Field("source", "Source", "text", "Contact"),
    Field("created_at", "Signed up", "signup", "Contact"),
    Field("list", "List", "list", "Lists and tags"),
    Field("tag", "Tag", "tag", "Lists and tags"),
    Field("last_opened_at", "Opened an email", "activity", "Engagement"),
    Field("last_clicked_at", "Clicked a link", "activity", "Engagement"),
    Field("last_sent_at", "Was mailed", "activity", "Engagement"),
    Field("engagement", "Engagement", "engagement", "Engagement"),
    Field(
        "soft_bounces",
        "Soft bounces",
        "number",
        "Engagement",
        "Counts temporary delivery failures; hard-bounced addresses are suppressed and never "
        "in a segment.",
    ),
)
FIELDS_BY_NAME = {f.field: f for f in FIELDS}


def operators_for(field: str) -> tuple[str, ...]:
    """The operators a field allows (for an attribute: those of any attribute kind)."""
    if field.startswith("attributes."):
        kinds = ATTRIBUTE_KINDS
    elif field in FIELDS_BY_NAME:
        kinds = (FIELDS_BY_NAME[field].kind,)
    else:
        return ()
    return tuple(dict.fromkeys(o.op for kind in kinds for o in KIND_OPERATORS[kind]))


def operator_label(field: str, op: str) -> str | None:
    """The words for an operator of a field ("is more than"), None if it does not apply."""
    kinds = ATTRIBUTE_KINDS if field.startswith("attributes.") else (field_kind(field),)
    for kind in kinds:
        for operator in KIND_OPERATORS.get(kind, ()):
            if operator.op == op:
                return operator.label
    return None


def field_kind(field: str) -> str:
    """The kind of a built-in field, "" when unknown."""
    known = FIELDS_BY_NAME.get(field)
    return known.kind if known else ""


def field_label(field: str) -> str:
    """What a marketer calls a field: "City" for attributes.city, "Signed up" for created_at."""
    if field.startswith("attributes."):
        return field.removeprefix("attributes.").replace("_", " ")
    known = FIELDS_BY_NAME.get(field)
    return known.label if known else field


def catalogue() -> dict[str, Any]:
    """The table as JSON for the builder: kinds with their operators, and the fields."""
    return {
        "kinds": {k: [asdict(o) for o in ops] for k, ops in KIND_OPERATORS.items()},
        "fields": [asdict(f) for f in FIELDS],
        "attribute_kinds": list(ATTRIBUTE_KINDS),
    }
