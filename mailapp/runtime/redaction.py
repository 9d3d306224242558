"""Secrets out of log lines: the tokens in URLs the app or gunicorn would otherwise write.

A URL token is a credential: `/webhooks/<provider>/<token>` is the only one an SES endpoint
without a topic ARN has, and the signed `/t/c/`, `/t/o/`, `/u/`, `/v/` and
`/subscribe/confirm/` tokens act for one recipient. `redact` replaces each with `[redacted]`,
and the value of query parameters named like a secret (`?token=`, `key=`, `signature=` ...).

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
_installed = False


def redact(text: str) -> str:
    """`text` with URL tokens and secret query values replaced by [redacted]."""
    if "/" not in text and "=" not in text:
        return text
    text = _PATHS.sub(lambda m: f"{m['prefix']}/{REDACTED}", text)
    return _PARAMS.sub(lambda m: f"{m['name']}{REDACTED}" if m["value"] else m[0], text)


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
