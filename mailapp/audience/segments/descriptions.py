"""Segment rules in plain language: "contacts whose city is Berlin and with tag webinar"."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mailapp.audience.segments.rules import validate_rule
from mailapp.extensions import db
from mailapp.models import List

FIELD_LABELS = {
    "email": "email",
    "first_name": "first name",
    "last_name": "last name",
    "locale": "locale",
    "source": "source",
    "timezone": "time zone",
    "created_at": "signed up",
    "last_sent_at": "was last mailed",
    "last_opened_at": "last opened",
    "last_clicked_at": "last clicked",
    "soft_bounces": "soft bounces",
}
_COMPARE_WORDS = {
    "eq": "is",
    "neq": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "contains": "contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "before": "is before",
    "after": "is after",
}
# (did it, never did it, did not do it lately) for each activity date.
_DATE_VERBS = {
    "created_at": ("signed up", "never signed up", "did not sign up"),
    "last_sent_at": ("were mailed", "were never mailed", "were not mailed"),
    "last_opened_at": ("opened", "never opened", "have not opened"),
    "last_clicked_at": ("clicked", "never clicked", "have not clicked"),
}


def describe_rule(project_id: int, rule: Any) -> str:
    """The rule in plain language, e.g. "contacts whose city is Berlin and with tag webinar"."""
    validate_rule(rule)
    names = dict(
        db.session.execute(sa.select(List.id, List.name).where(List.project_id == project_id)).all()
    )
    return "contacts " + _describe(rule, names, top=True)


def describe_count(count: int, description: str) -> str:
    """A count and a description as one phrase: "2,431 contacts whose city is Berlin"."""
    noun = "contact" if count == 1 else "contacts"
    return f"{count:,} {noun} {description.removeprefix('contacts ')}"


def _describe(node: dict, names: dict[int, str], top: bool = False) -> str:
    if "not" in node:
        inner = node["not"]
        text = f"excluding those {_describe(inner, names, top=True)}"
        several = any(len(inner.get(key, ())) > 1 for key in ("all", "any"))
        return f"({text})" if several and not top else text
    for key, word in (("all", " and "), ("any", " or ")):
        if key in node:
            text = word.join(_describe(child, names) for child in node[key])
            return text if top or len(node[key]) == 1 else f"({text})"
    return _describe_condition(node, names)


def _quote(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_quote(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _describe_condition(node: dict, names: dict[int, str]) -> str:
    field, op, value = node["field"], node["op"], node.get("value")
    if field == "list":
        status = node.get("status", "confirmed")
        name = f"list {names.get(value, f'#{value}')}"
        detail = (
            "" if status == "confirmed" else f" ({status})" if status != "any" else " (any status)"
        )
        return f"{'in' if op == 'in' else 'not in'} {name}{detail}"
    if field == "tag":
        return f"{'with' if op == 'has' else 'without'} tag {value}"
    if field == "engagement":
        if op == "hard_bounced":
            return "who hard-bounced"
        return f"who opened or clicked in the last {value} days"
    if field in _DATE_VERBS:
        did, never, did_not = _DATE_VERBS[field]
        return {
            "is_set": f"who {did}",
            "is_not_set": f"who {never}",
            "within_days": f"who {did} in the last {value} days",
            "not_within_days": f"who {did_not} in the last {value} days",
            "before": f"who {did} before {value}",
            "after": f"who {did} after {value}",
        }[op]
    label = field.removeprefix("attributes.").replace("_", " ")
    label = FIELD_LABELS.get(field, label)
    if field == "soft_bounces":
        return f"whose {label} {_COMPARE_WORDS[op]} {_quote(value)}"
    if op == "is_set":
        return f"with a {label}"
    if op == "is_not_set":
        return f"without a {label}"
    if op == "in":
        return f"whose {label} is one of {_quote(value)}"
    return f"whose {label} {_COMPARE_WORDS[op]} {_quote(value)}"
