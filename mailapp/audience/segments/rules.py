"""Segment rules: a JSON tree compiled to one SQL condition for SQLite and PostgreSQL,
validated with the reason when refused, and described in plain language.

A rule is a group or a condition:

    {"all": [rule, ...]}   every rule holds        {"any": [rule, ...]}   at least one holds
    {"not": rule}          the rule does not hold
    {"field": F, "op": O, "value": V}               one condition

Fields and their operators:

- `email`, `first_name`, `last_name`, `locale`, `source`, `timezone`:
  eq, neq, contains, starts_with, ends_with, in, is_set, is_not_set
- `attributes.<key>` (letters, digits, `_`, `-`): eq, neq, contains, in, is_set, is_not_set
  on text; gt, gte, lt, lte on numbers (a number value compares the attribute as a number);
  before, after on ISO dates (`"2024-05-01"`) stored as text; eq with true/false on booleans
- `created_at` (signup date), `last_sent_at`, `last_opened_at`, `last_clicked_at`:
  before, after (ISO date), within_days, not_within_days (number of days), is_set, is_not_set
  (`{"field": "last_opened_at", "op": "is_not_set"}` is "never opened")
- `soft_bounces`: eq, gt, gte, lt, lte
- `list`: in, not_in (value: a list id; optional `"status"`: confirmed (default),
  unconfirmed, unsubscribed, or any)
- `tag`: has, has_not (value: a tag)
- `engagement`: opened_or_clicked_within_days (value: days), hard_bounced (no value)

Evaluation always leaves out suppressed and non-active contacts; quarantined ones too
unless asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

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
TEXT_FIELDS = ("email", "first_name", "last_name", "locale", "source", "timezone")
DATE_FIELDS = ("created_at", "last_sent_at", "last_opened_at", "last_clicked_at")
TEXT_OPS = ("eq", "neq", "contains", "starts_with", "ends_with", "in", "is_set", "is_not_set")
NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte")
DATE_OPS = ("before", "after", "within_days", "not_within_days", "is_set", "is_not_set")
ATTRIBUTE_OPS = (*TEXT_OPS, "gt", "gte", "lt", "lte", "before", "after")
MEMBER_STATUSES = {s.value for s in MembershipStatus} | {"any"}
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


class InvalidRule(ServiceError):
    """A rule that cannot be evaluated; the message says where and why."""


@dataclass
class _Compiler:
    project_id: int
    dialect: str
    conditions: int = 0

    def rule(self, node: Any, path: str, depth: int) -> sa.ColumnElement[bool]:
        if depth > MAX_DEPTH:
            raise InvalidRule(f"{path}: rules nest at most {MAX_DEPTH} levels deep")
        if not isinstance(node, dict):
            raise InvalidRule(f"{path}: expected an object, got {type(node).__name__}")
        groups = [k for k in ("all", "any", "not") if k in node]
        if groups:
            if len(node) != 1:
                raise InvalidRule(f"{path}: a group has exactly one key (all, any or not)")
            key = groups[0]
            if key == "not":
                # SQL's NULL would make "not (age < 40)" drop contacts without an age.
                inner = self.rule(node["not"], f"{path}.not", depth + 1)
                return sa.not_(sa.func.coalesce(inner, sa.false()))
            children = node[key]
            if not isinstance(children, list) or not children:
                raise InvalidRule(f"{path}.{key}: expected a non-empty list of rules")
            parts = [
                self.rule(child, f"{path}.{key}[{i}]", depth + 1)
                for i, child in enumerate(children)
            ]
            return sa.and_(*parts) if key == "all" else sa.or_(*parts)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidRule(f"a segment has at most {MAX_CONDITIONS} conditions")
        return self.condition(node, path)

    def condition(self, node: dict, path: str) -> sa.ColumnElement[bool]:
        field = node.get("field")
        op = node.get("op")
        if not isinstance(field, str) or not isinstance(op, str):
            raise InvalidRule(f"{path}: a condition needs a 'field' and an 'op'")
        value = node.get("value")
        where = f"{path} ({field} {op})"
        if field in TEXT_FIELDS:
            return _text(getattr(Contact, field), op, value, where, TEXT_OPS)
        if field in DATE_FIELDS:
            return _date(getattr(Contact, field), op, value, where)
        if field == "soft_bounces":
            return _number(Contact.soft_bounces, op, _as_number(value, where), where)
        if field.startswith("attributes."):
            return _attribute(field.removeprefix("attributes."), op, value, where, self.dialect)
        if field == "list":
            return self.list_condition(node, op, value, where)
        if field == "tag":
            if op not in ("has", "has_not") or not isinstance(value, str) or not value:
                raise InvalidRule(f"{where}: tag conditions are has/has_not with a tag")
            has = sa.exists().where(
                ContactTag.project_id == self.project_id,
                ContactTag.contact_id == Contact.id,
                ContactTag.tag == value,
            )
            return has if op == "has" else ~has
        if field == "engagement":
            return self.engagement(op, value, where)
        raise InvalidRule(f"{path}: unknown field {field!r}")

    def list_condition(self, node: dict, op: str, value: Any, where: str) -> sa.ColumnElement:
        if op not in ("in", "not_in"):
            raise InvalidRule(f"{where}: list conditions are in/not_in")
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidRule(f"{where}: the value is a list id")
        status = node.get("status", MembershipStatus.CONFIRMED.value)
        if status not in MEMBER_STATUSES:
            raise InvalidRule(
                f"{where}: status must be one of {', '.join(sorted(MEMBER_STATUSES))}"
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
        if op == "hard_bounced":
            return sa.or_(
                Contact.status == ContactStatus.BOUNCED,
                sa.exists().where(
                    Suppression.project_id == self.project_id,
                    Suppression.email == sa.func.lower(Contact.email),
                    Suppression.reason == SuppressionReason.HARD_BOUNCE,
                ),
            )
        raise InvalidRule(
            f"{where}: engagement ops are opened_or_clicked_within_days, hard_bounced"
        )


def _text(column: Any, op: str, value: Any, where: str, ops: tuple) -> sa.ColumnElement:
    if op not in ops:
        raise InvalidRule(f"{where}: unknown operator; use one of {', '.join(ops)}")
    if op == "is_set":
        return sa.and_(column.is_not(None), column != "")
    if op == "is_not_set":
        return sa.or_(column.is_(None), column == "")
    if op == "in":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise InvalidRule(f"{where}: 'in' takes a non-empty list of texts")
        return column.in_(value)
    if not isinstance(value, str):
        raise InvalidRule(f"{where}: the value must be text")
    if op == "eq":
        return column == value
    if op == "neq":
        return sa.or_(column.is_(None), column != value)
    if op == "contains":
        return column.contains(value, autoescape=True)
    if op == "starts_with":
        return column.startswith(value, autoescape=True)
    return column.endswith(value, autoescape=True)


def _number(expr: Any, op: str, value: float, where: str) -> sa.ColumnElement:
    compare = {
        "eq": expr.__eq__,
        "neq": expr.__ne__,
        "gt": expr.__gt__,
        "gte": expr.__ge__,
        "lt": expr.__lt__,
        "lte": expr.__le__,
    }
    if op not in compare:
        raise InvalidRule(f"{where}: unknown operator; use one of {', '.join(compare)}")
    return compare[op](value)


def _as_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRule(f"{where}: the value must be a number")
    return value


def _as_days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 36500:
        raise InvalidRule(f"{where}: the value is a whole number of days (1-36500)")
    return value


def _as_date(value: Any, where: str) -> datetime:
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidRule(f"{where}: the value must be an ISO date such as 2024-05-01")
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
    if op in ("within_days", "not_within_days"):
        since = utcnow() - timedelta(days=_as_days(value, where))
        return column >= since if op == "within_days" else sa.or_(column.is_(None), column < since)
    raise InvalidRule(f"{where}: unknown operator; use one of {', '.join(DATE_OPS)}")


def _attribute(key: str, op: str, value: Any, where: str, dialect: str) -> sa.ColumnElement:
    if not ATTRIBUTE_KEY.match(key):
        raise InvalidRule(f"{where}: attribute names use letters, digits, '_' and '-'")
    if op not in ATTRIBUTE_OPS:
        raise InvalidRule(f"{where}: unknown operator; use one of {', '.join(ATTRIBUTE_OPS)}")
    kind, text = _json_type(key, dialect), _json_text(key)
    if isinstance(value, bool):
        if op not in ("eq", "neq"):
            raise InvalidRule(f"{where}: true/false compare with eq or neq")
        holds = kind == ("true" if value else "false")
        return holds if op == "eq" else sa.not_(sa.func.coalesce(holds, False))
    if op in ("gt", "gte", "lt", "lte") or (op in ("eq", "neq") and isinstance(value, int | float)):
        number = sa.case((kind.in_(("integer", "real", "number")), _json_number(key, dialect)))
        if op == "neq":
            return sa.or_(number.is_(None), number != _as_number(value, where))
        return _number(number, op, _as_number(value, where), where)
    if op in ("before", "after"):
        day = _as_date(value, where).date().isoformat()
        text_date = sa.func.substr(text, 1, 10)
        return sa.and_(kind == "text", text_date < day if op == "before" else text_date > day)
    if op in ("is_set", "is_not_set"):
        present = sa.and_(kind.is_not(None), kind != "null", sa.func.coalesce(text, "x") != "")
        return present if op == "is_set" else sa.not_(sa.func.coalesce(present, False))
    return _text(text, op, value, where, TEXT_OPS)


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
    """The rule as one SQL condition on Contact; InvalidRule says what is wrong."""
    return _Compiler(project_id, dialect).rule(rule, "rule", 0)


def validate_rule(rule: Any) -> None:
    """Raise InvalidRule with the reason if the rule cannot be evaluated."""
    compile_rule(0, rule, "sqlite")
