"""Tracing with OpenTelemetry, off by default: one trace from an API call or a scheduler tick
through the queue to the worker and the SMTP transaction.

On when TRACING=otlp, or when OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ variant) names a
collector; off when TRACING=off or OTEL_SDK_DISABLED=true, whatever else is set. Each process
calls `setup_tracing(kind)` once: web in `wsgi.py`, worker at process boot (its broker
middleware, `workers.tracing`), scheduler in its `main`. Off, every helper here returns at
once: no exporter, no thread, no span. On, spans go in batches to an OTLP/HTTP collector
(the OTEL_BSP_* and OTEL_TRACES_SAMPLER settings apply as the SDK reads them).

What a span records is chosen here, never by a caller: route templates, methods, statuses,
actor and queue names, message ids, SMTP reply codes, a recipient's domain. Never a URL's
path values or query string (tokens), an address, a message body or a server's reply text;
an exception's message and stack go through `redaction.redact` as in the logs.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import socket
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from flask import Flask, Response, g, request
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mailapp.config import tracing_choice
from mailapp.runtime.redaction import redact

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

DEFAULT_ENDPOINT = "http://localhost:4318"
# W3C traceparent/tracestate only: baggage could carry anything a caller put in it.
_PROPAGATOR = TraceContextTextMapPropagator()
_NOOP = trace.NoOpTracer()


class _State:
    provider: TracerProvider | None = None
    tracer: trace.Tracer = _NOOP
    exit_hook = False


_state = _State()


def tracing_wanted(env: Mapping[str, str]) -> bool:
    """Whether this environment asks for tracing (TRACING, OTEL_* endpoint, OTEL_SDK_DISABLED)."""
    choice = tracing_choice(env)
    if choice == "off" or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return choice == "otlp" or any(env.get(name) for name in endpoints)


def traces_endpoint(env: Mapping[str, str]) -> str:
    """Where spans are posted: the traces endpoint as given, else the base one + /v1/traces."""
    if url := env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return url
    return (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/") + "/v1/traces"


def setup_tracing(kind: str, env: Mapping[str, str] | None = None) -> bool:
    """Export this process's spans if the environment asks for it (once); True when on.

    `kind` is web, worker or scheduler: the service is `mailapp-<kind>` unless
    OTEL_SERVICE_NAME names it.
    """
    env = os.environ if env is None else env
    if _state.provider is not None or not tracing_wanted(env):
        return _state.provider is not None
    # Imported here: a process that traces nothing never loads the tracing SDK or exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": env.get("OTEL_SERVICE_NAME") or f"mailapp-{kind}",
            "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
            "mailapp.process": kind,
        }
    )
    # Our own exit hook, not the SDK's: tests set up and shut down more than once.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    exporter = OTLPSpanExporter(endpoint=traces_endpoint(env))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _state.provider, _state.tracer = provider, provider.get_tracer("mailapp")
    if not _state.exit_hook:
        atexit.register(shutdown_tracing)
        _state.exit_hook = True
    return True


def shutdown_tracing() -> None:
    """Send the spans still buffered, stop the exporter, go back to tracing nothing."""
    provider, _state.provider, _state.tracer = _state.provider, None, _NOOP
    if provider is not None:
        provider.shutdown()


def flush_tracing(timeout_ms: int = 5000) -> None:
    """Send the spans still buffered now (a worker process ends without exit hooks)."""
    if _state.provider is not None:
        _state.provider.force_flush(timeout_ms)


def tracing_on() -> bool:
    return _state.provider is not None


def tracer() -> trace.Tracer:
    """This process's tracer: the SDK's when on, a no-op one when off."""
    return _state.tracer


def current_trace_id() -> str | None:
    """The current sampled span's trace id (32 hex digits) for log lines; None outside one."""
    ids = trace.get_current_span().get_span_context()
    return format(ids.trace_id, "032x") if ids.is_valid and ids.trace_flags.sampled else None


def carrier_of(span: trace.Span) -> dict[str, str]:
    """The W3C trace headers naming `span` as the parent, for a message to carry."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def context_from(carrier: Mapping[str, Any] | None) -> context.Context | None:
    """The parent a carried trace names (None when it names none)."""
    return _PROPAGATOR.extract(carrier) if carrier else None


def record_exception(span: trace.Span, exc: BaseException) -> None:
    """Mark `span` failed by `exc`, its message and stack redacted as a log line's are."""
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    span.add_event(
        "exception",
        {
            "exception.type": type(exc).__qualname__,
            "exception.message": redact(str(exc)),
            "exception.stacktrace": redact(stack),
        },
    )


@contextlib.contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any) -> Iterator[trace.Span]:
    """A span around the block, current inside it; an exception leaving it is recorded."""
    if not tracing_on():
        yield trace.INVALID_SPAN
        return
    # The SDK's own exception handling would put the unredacted message in the status.
    with tracer().start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except Exception as exc:
            record_exception(current, exc)
            raise


def traced_job(job_id: str, run: Callable[[], None]) -> Callable[[], None]:
    """`run` as a scheduler job each run of which is a span: the root of what it enqueues."""

    @functools.wraps(run)
    def job() -> None:
        with span(f"scheduler {job_id}", **{"mailapp.job": job_id}):
            run()

    return job


# HTTP requests (API, back office, public pages). Four hooks rather than the Flask
# instrumentation package: it records the full URL, query string included, where tokens are.


def init_app(app: Flask) -> None:
    """A span for each request; registered before the other hooks, so it covers them."""
    app.before_request(_start_request)
    app.after_request(_answer_request)
    app.teardown_request(_end_request)


def _start_request() -> None:
    if not tracing_on():
        return
    attributes: dict[str, Any] = {"http.request.method": request.method}
    name = request.method
    if request.url_rule is not None:  # the route's template: "/t/o/<token>", never the token
        attributes["http.route"] = request.url_rule.rule
        name = f"{request.method} {request.url_rule.rule}"
    if request.endpoint:
        attributes["mailapp.endpoint"] = request.endpoint
    current = tracer().start_span(
        name, context=context_from(request.headers), kind=SpanKind.SERVER, attributes=attributes
    )
    g.trace_request = (current, context.attach(trace.set_span_in_context(current)))


def _answer_request(response: Response) -> Response:
    if "trace_request" in g:
        current = g.trace_request[0]
        current.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            current.set_status(Status(StatusCode.ERROR))
    return response


def _end_request(exc: BaseException | None) -> None:
    entry = g.pop("trace_request", None)
    if entry is None:
        return
    current, token = entry
    if exc is not None:
        record_exception(current, exc)
    current.end()
    context.detach(token)


# The SMTP transaction: the hand-over of one message to a relay.


class _Reply(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def code(self) -> int | None: ...
    @property
    def enhanced_code(self) -> str | None: ...


R = TypeVar("R", bound=_Reply)


class _Transport(Protocol[R]):
    def send(self, mail_from: str, rcpt_to: str, data: bytes) -> R: ...


REPLY_CLASSES = {2: "accepted", 4: "transient", 5: "permanent"}


def traced_send(transport: _Transport[R], mail_from: str, rcpt_to: str, data: bytes) -> R:
    """`transport.send(...)` in a span naming the recipient's domain and the server's code."""
    if not tracing_on():
        return transport.send(mail_from, rcpt_to, data)
    attributes: dict[str, Any] = {
        "mailapp.recipient.domain": rcpt_to.rpartition("@")[2].lower(),
        "mailapp.message.bytes": len(data),
    }
    if host := getattr(transport, "host", None):
        attributes["server.address"] = host
    with span("smtp send", SpanKind.CLIENT, **attributes) as current:
        result = transport.send(mail_from, rcpt_to, data)
        current.set_attribute("mailapp.outcome", result.outcome)
        if result.code is not None:
            current.set_attribute("smtp.reply.code", result.code)
            current.set_attribute("smtp.reply.class", REPLY_CLASSES.get(result.code // 100, "?"))
        if result.enhanced_code:
            current.set_attribute("smtp.reply.enhanced_code", result.enhanced_code)
        if result.outcome in ("failed", "unknown"):
            current.set_status(Status(StatusCode.ERROR, result.outcome))
    return result
