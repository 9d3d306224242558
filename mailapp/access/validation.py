"""Checking settings typed by a person or sent by the API: every bad field named, none saved."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from mailapp.errors import ServiceError

HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
TRUE = frozenset({"1", "true", "on", "yes"})
FALSE = frozenset({"0", "false", "off", "no", ""})


class InvalidSettings(ServiceError):
    """One or more fields are wrong; `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


class FieldChecker:
    """Parses raw values (strings from forms and the CLI, JSON values from the API)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, field: str, message: str) -> None:
        """Remember a problem with a field (the first one per field is kept)."""
        self.errors.setdefault(field, message)

    def integer(self, field: str, raw: Any, low: int, high: int, *, optional: bool) -> int | None:
        """A whole number in [low, high]; None for an empty optional field."""
        if _blank(raw):
            if not optional:
                self.fail(field, "required")
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            self.fail(field, f"a whole number from {low:,} to {high:,}")
            return None
        try:
            value = int(str(raw).strip().replace(",", "").replace("_", ""))
        except ValueError:
            self.fail(field, f"a whole number from {low:,} to {high:,}, not {raw!r}")
            return None
        if not low <= value <= high:
            self.fail(field, f"a whole number from {low:,} to {high:,}, not {value:,}")
            return None
        return value

    def number(
        self, field: str, raw: Any, low: float, high: float, *, optional: bool
    ) -> float | None:
        """A decimal number in [low, high]; None for an empty optional field."""
        if _blank(raw):
            if not optional:
                self.fail(field, "required")
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            self.fail(field, f"a number from {low:g} to {high:g}")
            return None
        try:
            value = float(str(raw).strip().rstrip("%").replace(",", "."))
        except ValueError:
            self.fail(field, f"a number from {low:g} to {high:g}, not {raw!r}")
            return None
        if not low <= value <= high:
            self.fail(field, f"a number from {low:g} to {high:g}, not {value:g}")
            return None
        return value

    def choice(self, field: str, raw: Any, choices: tuple[str, ...]) -> str | None:
        """One of the given values."""
        value = raw.strip() if isinstance(raw, str) else raw
        if value not in choices:
            self.fail(field, f"one of {', '.join(choices)}, not {raw!r}")
            return None
        return value

    def boolean(self, field: str, raw: Any) -> bool | None:
        """Yes or no (true/false, on/off, 1/0)."""
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if raw is not None else ""
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        self.fail(field, f"yes or no, not {raw!r}")
        return None

    def hhmm(self, field: str, raw: Any) -> str | None:
        """A time of day as HH:MM (24-hour clock)."""
        text = raw.strip() if isinstance(raw, str) else ""
        if len(text) == 4 and text[1] == ":":
            text = "0" + text
        if not HHMM.match(text):
            self.fail(field, f"a time as HH:MM on the 24-hour clock (e.g. 21:00), not {raw!r}")
            return None
        return text

    def day(self, field: str, raw: Any) -> date | None:
        """A calendar date as YYYY-MM-DD."""
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            self.fail(field, f"a date as YYYY-MM-DD, not {raw!r}")
            return None

    def raise_if_any(self) -> None:
        """Refuse the whole change when any field was wrong."""
        if self.errors:
            raise InvalidSettings(self.errors)
