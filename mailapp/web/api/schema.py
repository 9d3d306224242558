"""Requests and responses checked against the JSON Schemas that endpoints declare.

One declaration (`document(request=..., parameters=..., responses=...)`) serves three ends:
the OpenAPI document at /api/v1/openapi.json, the check of every request's query and body
before its handler runs (a wrong field answers 422 with `error.fields` naming each one, and
nothing is saved), and, when API_CHECK_RESPONSES is set (the test suite sets it), the check of
every JSON response against the schema documented for its status, so the document cannot drift
from what the API answers. The checks are jsonschema's Draft 2020-12, the dialect of OpenAPI 3.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from mailapp.access.validation import InvalidSettings

# Response schemas point at the shared error shape with "$ref"; its target is registered here.
REF_PREFIX = "#/components/schemas/"
# Our own checks of the formats we use, so they do not depend on jsonschema's optional extras.
_FORMATS = FormatChecker(formats=())
_validators: dict[int, Draft202012Validator] = {}
_components: dict[str, Any] = {}


@_FORMATS.checks("date-time", raises=ValueError)
def _is_time(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


@_FORMATS.checks("email")
def _is_email(value: object) -> bool:
    if not isinstance(value, str):
        return True
    local, _, domain = value.rpartition("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in value)


@_FORMATS.checks("uri", raises=ValueError)
def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


class ResponseMismatch(AssertionError):
    """A response does not match the schema its endpoint documents (raised only in tests)."""


def register_components(schemas: Mapping[str, Any]) -> None:
    """Name the schemas that `{"$ref": "#/components/schemas/<name>"}` refers to."""
    _components.update(schemas)
    _validators.clear()


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    # Schemas are module-level constants, so their identity is a stable cache key.
    found = _validators.get(id(schema))
    if found is None:
        # "#/components/..." resolves against the schema's root: give it those components.
        rooted = {**schema, "components": {"schemas": _components}}
        found = Draft202012Validator(rooted, format_checker=_FORMATS)
        _validators[id(schema)] = found
    return found


def field_problems(schema: Mapping[str, Any], value: Any, name: str = "body") -> dict[str, str]:
    """Each wrong field of `value` (a dotted path under `name`) and what is wrong with it."""
    problems: dict[str, str] = {}
    for error in sorted(_validator(schema).iter_errors(value), key=lambda e: list(e.path)):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required":
            missing = [key for key in error.validator_value if key not in error.instance]
            for key in missing:
                problems.setdefault(_field(name, [*path, key]), "required")
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - known):
                problems.setdefault(_field(name, [*path, key]), "not a field of this request")
            continue
        problems.setdefault(_field(name, path), _words(error))
    return problems


def _field(name: str, path: list[str]) -> str:
    """A body's fields are named by their path alone; a query parameter by its own name."""
    if not path:
        return name
    return ".".join(path) if name == "body" else ".".join([name, *path])


def _words(error: ValidationError) -> str:
    expected = error.validator_value
    match error.validator:
        case "type":
            kinds = expected if isinstance(expected, list) else [expected]
            return " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
        case "enum":
            return "one of " + ", ".join(str(v) for v in expected)
        case "minimum":
            return f"at least {expected}"
        case "maximum":
            return f"at most {expected}"
        case "exclusiveMinimum":
            return f"more than {expected}"
        case "minLength":
            return "required" if expected == 1 else f"at least {expected} characters"
        case "maxLength":
            return f"at most {expected} characters"
        case "minItems":
            return f"at least {expected} items"
        case "maxItems":
            return f"at most {expected} items"
        case "pattern":
            return f"not in the expected form: {error.schema.get('description', expected)}"
        case "format":
            return _FORMAT_WORDS.get(expected, f"a valid {expected}")
    return error.message


_TYPE_WORDS = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_FORMAT_WORDS = {
    "email": "an email address",
    "date": "a date, YYYY-MM-DD",
    "date-time": "an ISO 8601 time with its offset, e.g. 2026-05-01T09:00:00+02:00",
    "uri": "a full URL",
}


def check_body(schema: Mapping[str, Any], body: Any) -> None:
    """Refuse a request body that does not match its schema: InvalidSettings, every field named."""
    problems = field_problems(schema, body)
    if problems:
        raise InvalidSettings(problems)


def query_values(parameters: list[Mapping[str, Any]], args: Mapping[str, str]) -> dict[str, Any]:
    """The documented query parameters, converted to their schema's type and checked."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for parameter in parameters:
        name = parameter["name"]
        if parameter.get("in") != "query" or name not in args:
            continue
        schema = parameter.get("schema", {})
        raw = args[name]
        value: Any = raw
        kind = schema.get("type")
        try:
            if kind == "integer":
                value = int(raw)
            elif kind == "number":
                value = float(raw)
            elif kind == "boolean":
                value = {"true": True, "1": True, "false": False, "0": False}[raw.lower()]
        except (KeyError, ValueError):
            problems[name] = _TYPE_WORDS.get(kind, kind)
            continue
        problems.update(field_problems(schema, value, name))
        values[name] = value
    if problems:
        raise InvalidSettings(problems)
    return values


def check_response(schema: Mapping[str, Any] | None, body: Any, where: str) -> None:
    """Raise ResponseMismatch when a JSON response does not match its documented schema."""
    if schema is None:
        return
    problems = field_problems(schema, body)
    if problems:
        raise ResponseMismatch(f"{where} answered outside its documented schema: {problems}")
