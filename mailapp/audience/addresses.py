"""Addresses and loose contact input made clean: normalization, quality labels, time zones.

The one place an address is judged; contacts, suppression, imports and the API all ask here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from disposable_email_domains import blocklist as disposable_domains
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from mailapp.errors import ServiceError

# Shared mailboxes read by whoever is on duty: consent is rarely theirs to give.
ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse", "admin", "administrator", "billing", "contact", "help", "hello", "hostmaster",
        "info", "jobs", "marketing", "no-reply", "noc", "noreply", "office", "postmaster",
        "privacy", "root", "sales", "security", "support", "team", "webmaster",
    }
)  # fmt: skip
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_LOCAL = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*")
PLAIN_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


class InvalidContact(ServiceError):
    """One field of a contact is unusable; the message says why, `field` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Address:
    # Normalized: trimmed and lower-cased whole, as every ESP matches addresses; one contact
    # per project per address, however it was typed. `raw` keeps the typing, for display.
    email: str
    raw: str
    is_role: bool
    is_disposable: bool


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _plain_address(given: str) -> tuple[str, str] | None:
    """(local, domain) of a plain ASCII address email-validator would accept as it is.

    email-validator costs ~50 us an address (IDNA tables); most addresses are plain ASCII
    that these strict patterns settle in about a microsecond (the domain check is cached,
    as a file holds few distinct domains). Anything else (Unicode, quoting, xn-- labels,
    odd TLDs, special-use domains, long parts) goes to email-validator, which also words
    every refusal. tests/audience/test_contacts.py proves the subset on tricky addresses.
    """
    local, at, domain = given.rpartition("@")
    if not at or len(local) > 64 or len(given) > 254 or not PLAIN_LOCAL.fullmatch(local):
        return None
    plain = _plain_domain(domain)
    return None if plain is None else (local, plain)


@lru_cache(maxsize=65536)
def _plain_domain(domain: str) -> str | None:
    if len(domain) > 253 or not PLAIN_DOMAIN.fullmatch(domain):
        return None
    labels = domain.lower().split(".")
    if any(label[2:4] == "--" for label in labels) or labels[-1] in SPECIAL_USE_DOMAIN_NAMES:
        return None
    return ".".join(labels)


def normalize_email(raw: str, *, check_deliverability: bool = False) -> Address:
    """Validate and normalize an address, with its quality labels; else InvalidContact.

    The whole address is lower-cased (str.lower, never casefold: "ß" stays "ß"). RFC 5321
    lets a server treat local parts as case-sensitive, but no mailbox provider does, and two
    contacts for one person would each get every campaign.
    """
    given = (raw or "").strip()
    if not given:
        raise InvalidContact("email is empty", "email")
    plain = None if check_deliverability else _plain_address(given)
    if plain is None:
        try:
            result = validate_email(given, check_deliverability=check_deliverability)
        except EmailNotValidError as exc:
            raise InvalidContact(f"invalid email {given!r}: {exc}", "email") from None
        plain = result.normalized.rpartition("@")[::2]
    local, domain = plain[0].lower(), plain[1].lower()
    return Address(
        email=f"{local}@{domain}",
        raw=given,
        is_role=local in ROLE_LOCAL_PARTS,
        is_disposable=domain in disposable_domains,
    )


def validate_timezone(name: str | None) -> str | None:
    """An IANA zone name (or None); else InvalidContact."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if name not in _zones():
        raise InvalidContact(
            f"time zone {name!r} is not an IANA zone name (e.g. Europe/Berlin)", "timezone"
        )
    return name


def clean_contact(data: dict[str, Any]) -> dict[str, Any]:
    """A row ready for bulk_upsert from loose input (API body, CSV row); else InvalidContact."""
    address = normalize_email(str(data.get("email") or ""))
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidContact("attributes must be an object")
    row: dict[str, Any] = {
        "email": address.email,
        "email_raw": address.raw,
        "is_role_address": address.is_role,
        "is_disposable": address.is_disposable,
        "attributes": attributes,
        "timezone": validate_timezone(data.get("timezone")),
    }
    for name in ("first_name", "last_name", "locale"):
        value = data.get(name)
        row[name] = str(value).strip()[:200] or None if value is not None else None
    if row["locale"] and len(row["locale"]) > 16:
        raise InvalidContact(f"locale {row['locale']!r} is too long", "locale")
    return row
