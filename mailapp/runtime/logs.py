"""Log lines: JSON in production, readable text in development, each naming its ids.

`log_context(campaign_id=..., ...)` names the request, project, campaign, delivery and
Dramatiq message a piece of work is about; every line logged inside it carries those ids
(a `contextvars` value, so each request, worker thread and asyncio task has its own). An
`extra={"delivery_id": ...}` on one call names an id for that line alone.

`configure_logging(config)` gives the root logger one handler (kept across create_app calls)
with the format LOG_FORMAT chose: `json` is one object a line (`time` in ISO-8601 UTC,
`level`, `logger`, `message`, the ids, `exception`), `text` the same as
`time LEVEL logger: message key=value ...`. Both write the message through
`redaction.redact` (URL tokens, API keys, email addresses masked as `j***@example.org`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from mailapp.runtime.redaction import install as install_redaction
from mailapp.runtime.redaction import redact
from mailapp.runtime.tracing import current_trace_id

# The ids a line may carry, in the order they are written. message_id is the Dramatiq
# message's; transactional_id a transactional message's row; trace_id the current span's
# trace (`runtime.tracing`), when tracing is on.
FIELDS = (
    "request_id",
    "project_id",
    "campaign_id",
    "delivery_id",
    "transactional_id",
    "actor",
    "message_id",
    "trace_id",
)
_ids: ContextVar[Mapping[str, Any]] = ContextVar("mailapp_log_ids", default=MappingProxyType({}))


def bind_ids(**ids: Any) -> Token[Mapping[str, Any]]:
    """Name ids for the rest of the current context; `unbind_ids(token)` undoes it."""
    unknown = set(ids) - set(FIELDS)
    if unknown:
        raise TypeError(f"not a log id: {', '.join(sorted(unknown))}")
    current = _ids.get()
    merged = {**current, **{k: v for k, v in ids.items() if v is not None}}
    return _ids.set(MappingProxyType(merged))


def bind_request_ids(**ids: Any) -> None:
    """Name ids for the rest of the current request: only inside a request whose own ids were
    bound when it started (`web.request_ids`), whose end unbinds these too. Elsewhere (a
    request context nobody ran the hooks of) nothing would ever unbind them, so nothing is
    bound."""
    if "request_id" in _ids.get():
        bind_ids(**ids)


def unbind_ids(token: Token[Mapping[str, Any]]) -> None:
    _ids.reset(token)


@contextlib.contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Every line logged inside carries these ids (None values are left out)."""
    token = bind_ids(**ids)
    try:
        yield
    finally:
        unbind_ids(token)


def current_ids() -> dict[str, Any]:
    return dict(_ids.get())


class ContextFilter(logging.Filter):
    """Puts the current ids on each record; an id given as `extra` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _ids.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if not hasattr(record, "trace_id") and (trace_id := current_trace_id()):
            record.trace_id = trace_id
        return True


def _ids_of(record: logging.LogRecord) -> dict[str, Any]:
    return {name: value for name in FIELDS if (value := getattr(record, name, None)) is not None}


def _exception(record: logging.LogRecord, formatter: logging.Formatter) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    text = record.exc_text
    if record.stack_info:
        text = f"{text}\n{record.stack_info}" if text else record.stack_info
    return redact(text) if text else None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_ids_of(record),
        }
        if exception := _exception(record, self):
            line["exception"] = exception
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: "
        line += redact(record.getMessage())
        ids = " ".join(f"{name}={value}" for name, value in _ids_of(record).items())
        if ids:
            line += f"  {ids}"
        if exception := _exception(record, self):
            line += f"\n{exception}"
        return line


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (a test runner or Dramatiq's
    worker process swaps it), never to a stream closed since."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def make_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing `log_format` ("json" or "text") lines with the current ids."""
    handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    return _prepare(handler, log_format)


def _prepare(handler: logging.Handler, log_format: str) -> logging.Handler:
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
    handler.mailapp = True  # type: ignore[attr-defined]
    return handler


def configure_logging(config: Mapping[str, Any]) -> None:
    """Root logger level and format from LOG_LEVEL and LOG_FORMAT; safe to call again.

    The root logger gets one handler of ours, on stderr. A plain StreamHandler already there
    (Dramatiq's worker process calls basicConfig before it imports the app) is given our
    format instead of a second handler beside it. A root logger that has other handlers (a
    test runner's capture) is left to them: pytest's caplog keeps seeing every record.
    """
    install_redaction()
    root = logging.getLogger()
    ours = [h for h in root.handlers if type(h) is logging.StreamHandler or _ours(h)]
    if not root.handlers:
        ours = [make_handler(config["LOG_FORMAT"])]
        root.addHandler(ours[0])
    for handler in ours:
        _prepare(handler, config["LOG_FORMAT"])
    if ours:
        root.setLevel(config["LOG_LEVEL"])


def _ours(handler: logging.Handler) -> bool:
    return getattr(handler, "mailapp", False)
