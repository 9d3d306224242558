"""Form fields the back office needs beyond WTForms': secrets that are never shown again."""

from __future__ import annotations

from typing import Any

from wtforms import PasswordField, StringField, TextAreaField


class _WriteOnly:
    """Never rendered with the stored value; left empty, the stored value stays."""

    def process_data(self, value: Any) -> None:
        self.data = None

    def populate_obj(self, obj: Any, name: str) -> None:
        if self.data:
            setattr(obj, name, self.data)


class SecretField(_WriteOnly, PasswordField):
    """A one-line secret (password, transport URL, signing secret)."""


class SecretTextField(_WriteOnly, TextAreaField):
    """A multi-line secret (a PEM private key)."""


class CommaListField(StringField):
    """A list of short strings edited as "a, b, c" (a JSON list column)."""

    def _value(self) -> str:
        return ", ".join(self.data or [])

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = valuelist[0] if valuelist else ""
        self.data = [part.strip() for part in raw.split(",") if part.strip()]


def strip(value: str | None) -> str | None:
    """A WTForms filter: surrounding blanks are never part of an address or name."""
    return value.strip() if isinstance(value, str) else value
