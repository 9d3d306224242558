"""Segment rules: a JSON tree compiled to one SQL condition for SQLite and PostgreSQL,
validated with the reason when refused, and described in plain language.

A rule is a group or a condition:

    {"all": [rule, ...]}   every rule holds        {"any": [rule, ...]}   at least one holds
    {"not": rule}          the rule does not hold
    {"field": F, "op": O, "value": V}               one condition

Fields, and the operators each allows, are the table in `segments.fields` (shared with the
builder). Values: text, a list of texts for `in`, numbers, ISO dates (`"2024-05-01"`), days
(1-36500) for within_days / not_within_days, true/false for yes/no attributes, a list id for
`list` (optional `"status"`: confirmed (default), unconfirmed, unsubscribed or any), a tag for
`tag`. `attributes.<key>` (letters, digits, `_`, `-`) compares as a number when the value is
one, as an ISO date with before/after. `{"field": "last_opened_at", "op": "is_not_set"}` is
"never opened".

Evaluation always leaves out suppressed and non-active contacts; quarantined ones too
unless asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailapp.audience.segments.fields import (
    FIELDS,
    field_label,
    operator_label,
    operators_for,
)
from mailapp.errors import ServiceError
from mailapp.models import (
    Contact,
    ContactStatus,
    ContactTag,
    ListMembership,
    MembershipStatus,
    Suppression,
    SuppressionReason,
)
from mailapp.models.base import utcnow

MAX_DEPTH = 8
MAX_CONDITIONS = 100
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
TEXT_FIELDS = tuple(f.field for f in FIELDS if f.kind == "text")
DATE_FIELDS = tuple(f.field for f in FIELDS if f.kind in ("activity", "signup"))
MEMBER_STATUSES = {s.value for s in MembershipStatus} | {"any"}


class InvalidRule(ServiceError):
    """A rule that cannot be evaluated; the message says which condition and why, in words."""


@dataclass
class _Compiler:
    project_id: int
    dialect: str
    conditions: int = 0

    def rule(self, node: Any, path: str, depth: int) -> sa.ColumnElement[bool]:
        if depth > MAX_DEPTH:
            raise InvalidRule(f"Groups nest at most {MAX_DEPTH} levels deep.")
        if depth == 0 and (node is None or node == {}):
            raise InvalidRule("Add at least one condition.")
        if not isinstance(node, dict):
            raise InvalidRule(
                f"The rule must be a condition or a group (all/any/not), not {_kind_of(node)}"
                + ("" if depth == 0 else f" (at {path})")
                + "."
            )
        groups = [k for k in ("all", "any", "not") if k in node]
        if groups:
            if len(node) != 1:
                raise InvalidRule(f"A group has exactly one key, all, any or not (at {path}).")
            key = groups[0]
            if key == "not":
                # SQL's NULL would make "not (age < 40)" drop contacts without an age.
                inner = self.rule(node["not"], f"{path}.not", depth + 1)
                return sa.not_(sa.func.coalesce(inner, sa.false()))
            children = node[key]
            if not isinstance(children, list) or not children:
                if depth == 0:
                    raise InvalidRule("Add at least one condition.")
                raise InvalidRule(
                    f"A group has no conditions: add one or remove the group (at {path})."
                )
            parts = [
                self.rule(child, f"{path}.{key}[{i}]", depth + 1)
                for i, child in enumerate(children)
            ]
            return sa.and_(*parts) if key == "all" else sa.or_(*parts)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidRule(f"A segment has at most {MAX_CONDITIONS} conditions.")
        return self.condition(node, f"Condition {self.conditions}")

    def condition(self, node: dict, number: str) -> sa.ColumnElement[bool]:
        field = node.get("field")
        op = node.get("op")
        if not isinstance(field, str) or not field:
            raise InvalidRule(f"{number}: choose a field.")
        where = f"{number} ({field_label(field)})"
        if not operators_for(field) or field == "attributes.":
            if field.startswith("attributes."):
                raise InvalidRule(f"{number}: enter the attribute's name.")
            raise InvalidRule(f"{number}: unknown field {field!r}.")
        if not isinstance(op, str) or not op:
            raise InvalidRule(f"{where}: choose an operator.")
        if op not in operators_for(field):
            allowed = ", ".join(
                dict.fromkeys(
                    label for o in operators_for(field) if (label := operator_label(field, o))
                )
            )
            raise InvalidRule(f"{where}: unknown operator {op!r} here; choose one of: {allowed}.")
        value = node.get("value")
        if field in TEXT_FIELDS:
            return _text(getattr(Contact, field), op, value, where)
        if field in DATE_FIELDS:
            return _date(getattr(Contact, field), op, value, where)
        if field == "soft_bounces":
            return _number(Contact.soft_bounces, op, _as_number(value, where))
        if field.startswith("attributes."):
            return _attribute(field.removeprefix("attributes."), op, value, where, self.dialect)
        if field == "list":
            return self.list_condition(node, op, value, where)
        if field == "tag":
            if not isinstance(value, str) or not value.strip():
                raise InvalidRule(f"{where}: enter a tag.")
            has = sa.exists().where(
                ContactTag.project_id == self.project_id,
                ContactTag.contact_id == Contact.id,
                ContactTag.tag == value,
            )
            return has if op == "has" else ~has
        return self.engagement(op, value, where)

    def list_condition(self, node: dict, op: str, value: Any, where: str) -> sa.ColumnElement:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidRule(f"{where}: choose a list (the value is a list id).")
        status = node.get("status", MembershipStatus.CONFIRMED.value)
        if status not in MEMBER_STATUSES:
            raise InvalidRule(
                f"{where}: the subscription status is one of {', '.join(sorted(MEMBER_STATUSES))}."
            )
        member = sa.exists().where(
            ListMembership.project_id == self.project_id,
            ListMembership.contact_id == Contact.id,
            ListMembership.list_id == value,
            *([] if status == "any" else [ListMembership.status == status]),
        )
        return member if op == "in" else ~member

    def engagement(self, op: str, value: Any, where: str) -> sa.ColumnElement:
        if op == "opened_or_clicked_within_days":
            since = utcnow() - timedelta(days=_as_days(value, where))
            return sa.or_(Contact.last_opened_at >= since, Contact.last_clicked_at >= since)
        return sa.or_(
            Contact.status == ContactStatus.BOUNCED,
            sa.exists().where(
                Suppression.project_id == self.project_id,
                Suppression.email_hash == Contact.email_hash,
                Suppression.reason == SuppressionReason.HARD_BOUNCE,
            ),
        )


def _kind_of(node: Any) -> str:
    return {list: "a list", str: "a text", type(None): "empty"}.get(type(node), "a value")


def _text(column: Any, op: str, value: Any, where: str) -> sa.ColumnElement:
    if op == "is_set":
        return sa.and_(column.is_not(None), column != "")
    if op == "is_not_set":
        return sa.or_(column.is_(None), column == "")
    if op == "in":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise InvalidRule(f"{where}: enter at least one value (separate values with commas).")
        return column.in_(value)
    if not isinstance(value, str) or value == "":
        raise InvalidRule(f"{where}: enter a value.")
    if op == "eq":
        return column == value
    if op == "neq":
        return sa.or_(column.is_(None), column != value)
    if op == "contains":
        return column.contains(value, autoescape=True)
    if op == "starts_with":
        return column.startswith(value, autoescape=True)
    return column.endswith(value, autoescape=True)


def _number(expr: Any, op: str, value: float) -> sa.ColumnElement:
    compare = {
        "eq": expr.__eq__,
        "neq": expr.__ne__,
        "gt": expr.__gt__,
        "gte": expr.__ge__,
        "lt": expr.__lt__,
        "lte": expr.__le__,
    }
    return compare[op](value)


def _as_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRule(f"{where}: the value must be a number.")
    return value


def _as_days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 36500:
        raise InvalidRule(f"{where}: enter a whole number of days (1-36500).")
    return value


def _as_date(value: Any, where: str) -> datetime:
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidRule(f"{where}: enter a date (an ISO date such as 2024-05-01).")
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=utcnow().tzinfo)


def _date(column: Any, op: str, value: Any, where: str) -> sa.ColumnElement:
    if op == "is_set":
        return column.is_not(None)
    if op == "is_not_set":
        return column.is_(None)
    if op == "before":
        return column < _as_date(value, where)
    if op == "after":
        return column >= _as_date(value, where) + timedelta(days=1)
    since = utcnow() - timedelta(days=_as_days(value, where))
    return column >= since if op == "within_days" else sa.or_(column.is_(None), column < since)


def _attribute(key: str, op: str, value: Any, where: str, dialect: str) -> sa.ColumnElement:
    if not ATTRIBUTE_KEY.match(key):
        raise InvalidRule(f"{where}: attribute names use letters, digits, '_' and '-'.")
    kind, text = _json_type(key, dialect), _json_text(key)
    if isinstance(value, bool):
        if op not in ("eq", "neq"):
            raise InvalidRule(f"{where}: yes/no values compare with “is” or “is not”.")
        holds = kind == ("true" if value else "false")
        return holds if op == "eq" else sa.not_(sa.func.coalesce(holds, False))
    if op in ("gt", "gte", "lt", "lte") or (op in ("eq", "neq") and isinstance(value, int | float)):
        number = sa.case((kind.in_(("integer", "real", "number")), _json_number(key, dialect)))
        if op == "neq":
            return sa.or_(number.is_(None), number != _as_number(value, where))
        return _number(number, op, _as_number(value, where))
    if op in ("before", "after"):
        day = _as_date(value, where).date().isoformat()
        text_date = sa.func.substr(text, 1, 10)
        return sa.and_(kind == "text", text_date < day if op == "before" else text_date > day)
    if op in ("is_set", "is_not_set"):
        present = sa.and_(kind.is_not(None), kind != "null", sa.func.coalesce(text, "x") != "")
        return present if op == "is_set" else sa.not_(sa.func.coalesce(present, False))
    return _text(text, op, value, where)


def _json_type(key: str, dialect: str) -> sa.ColumnElement[str]:
    """The JSON type of an attribute, spelled the SQLite way (text, integer, real, true ...)."""
    if dialect == "postgresql":
        pg = sa.func.jsonb_typeof(Contact.attributes[key])
        truth = sa.case((Contact.attributes[key].as_string() == "true", "true"), else_="false")
        return sa.case((pg == "string", "text"), (pg == "boolean", truth), else_=pg)
    return sa.func.json_type(Contact.attributes, f'$."{key}"')


def _json_text(key: str) -> sa.ColumnElement[str]:
    return Contact.attributes[key].as_string()


def _json_number(key: str, dialect: str) -> sa.ColumnElement:
    if dialect == "postgresql":
        return sa.cast(Contact.attributes[key].as_string(), sa.Numeric)
    return sa.func.json_extract(Contact.attributes, f'$."{key}"')


def compile_rule(project_id: int, rule: Any, dialect: str) -> sa.ColumnElement[bool]:
    """The rule as one SQL condition on Contact; InvalidRule says what is wrong, in words
    that name the condition ("Condition 2 (city): choose an operator.")."""
    return _Compiler(project_id, dialect).rule(rule, "rule", 0)


def validate_rule(rule: Any) -> None:
    """Raise InvalidRule with the reason if the rule cannot be evaluated."""
    compile_rule(0, rule, "sqlite")
