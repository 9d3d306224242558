"""Secrets out of log lines: the tokens in URLs the app or gunicorn would otherwise write.

A URL token is a credential: `/webhooks/<provider>/<token>` is the only one an SES endpoint
without a topic ARN has, and the signed `/t/c/`, `/t/o/`, `/u/`, `/v/` and
`/subscribe/confirm/` tokens act for one recipient. `redact` replaces each with `[redacted]`,
and the value of query parameters named like a secret (`?token=`, `key=`, `signature=` ...),
a signed token standing alone (`mailapp.tokens`: base-36 ids and a 16-letter signature),
an API key past its public prefix (`mk_` and 8 characters, what the back office shows), a
bearer credential and the password of a URL.

An email address is personal data: it reads as its first letter and its domain,
`j***@example.org` (the domain is what an operator needs: which provider refuses or
throttles). A VERP return path carries a token in its local part, masked alike.

`install()` puts redaction into every log record this process creates (a LogRecord factory),
so it covers the app's loggers, werkzeug's, dramatiq's and gunicorn's access and error logs
alike, whatever handler or format writes them. create_app and gunicorn.conf.py call it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
_PATHS = re.compile(
    r"(?P<prefix>/(?:webhooks/[^/\s?#\"]+|t/[co]|u|v|subscribe/confirm))/(?P<token>[^/\s?#\"]+)"
)
_PARAMS = re.compile(
    r"(?P<name>[?&;](?:[\w.-]*(?:token|key|signature|sig|secret|password|code))=)"
    r"(?P<value>[^&;#\s\"]*)",
    re.IGNORECASE,
)
# URL user info first, or its password would read as the local part of an address.
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
_ADDRESSES = re.compile(
    r"(?P<first>[A-Za-z0-9!#$%&'+=?^_`{|}~-])[A-Za-z0-9!#$%&'+=?^_`{|}~.-]*"
    r"@(?P<domain>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+)"
)
# mailapp.tokens: `<id>-...-<signature>`, ids in base 36, 16 letters of base 32.
_SIGNED = re.compile(r"(?<![\w-])(?:[0-9a-z]{1,13}-)+[a-z2-7]{16}(?![\w-])")
# mailapp.access.apikeys: "mk_" + token_urlsafe(32); its first 11 characters are its name.
_API_KEYS = re.compile(r"(?P<prefix>\bmk_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]{12,}")
_BEARER = re.compile(r"(?P<scheme>\bBearer\s+)[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE)
_installed = False


def redact(text: str) -> str:
    """`text` with tokens, keys and secret values replaced by [redacted], addresses masked."""
    if "/" in text or "=" in text:
        text = _PATHS.sub(lambda m: f"{m['prefix']}/{REDACTED}", text)
        text = _PARAMS.sub(lambda m: f"{m['name']}{REDACTED}" if m["value"] else m[0], text)
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
        text = _ADDRESSES.sub(lambda m: f"{m['first']}***@{m['domain']}", text)
    if "-" in text:
        text = _SIGNED.sub(REDACTED, text)
    if "mk_" in text:
        text = _API_KEYS.sub(lambda m: f"{m['prefix']}{REDACTED}", text)
    if "earer" in text:
        text = _BEARER.sub(lambda m: f"{m['scheme']}{REDACTED}", text)
    return text


def _redacting_factory(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it when the line is written
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    make.redacting = True  # type: ignore[attr-defined]
    return make


def install() -> None:
    """Redact every log record created in this process from now on (idempotent)."""
    global _installed
    factory = logging.getLogRecordFactory()
    if _installed or getattr(factory, "redacting", False):
        return
    logging.setLogRecordFactory(_redacting_factory(factory))
    _installed = True
