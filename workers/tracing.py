"""The Dramatiq side of tracing (`mailapp.runtime.tracing`): the trace rides in the message.

Enqueueing is a span, child of whatever sent the message (a request, a scheduler job, another
message's processing); its W3C traceparent goes into `message.options["trace"]`. The worker's
processing of the message is a span, child of that enqueue span, current while the actor runs
(so the SMTP spans of a batch hang under it, and its log lines name the trace). Off, no
message carries a trace and nothing here does any work.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from mailapp.runtime.tracing import (
    carrier_of,
    context_from,
    flush_tracing,
    record_exception,
    setup_tracing,
    tracer,
    tracing_on,
)

OPTION = "trace"


def _attributes(message: dramatiq.Message, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": "dramatiq",
        "messaging.operation.type": operation,
        "messaging.destination.name": message.queue_name,
        "messaging.message.id": message.message_id,
        "mailapp.actor": message.actor_name,
        "mailapp.retries": message.options.get("retries", 0),
    }


class TraceMessages(Middleware):
    """Puts the current trace into each message enqueued and continues it where it is run."""

    def __init__(self) -> None:
        self._local = threading.local()

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        setup_tracing("worker")

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # A worker process ends without running exit hooks: what is buffered goes now.
        flush_tracing(timeout_ms=3000)

    def _pending(self) -> dict[str, trace.Span]:
        if not hasattr(self._local, "pending"):
            self._local.pending = {}
        return self._local.pending

    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None
    ) -> None:
        if not tracing_on():
            return
        pending = self._pending()
        for stale in pending.values():  # an enqueue that raised never reached after_enqueue
            stale.set_status(Status(StatusCode.ERROR, "not enqueued"))
            stale.end()
        pending.clear()
        # A message enqueued again (a retry, a delayed one moved to its queue) stays in its
        # own trace; a new one continues the current span's.
        carried = context_from(message.options.get(OPTION))
        attributes = _attributes(message, "send")
        if delay:
            attributes["mailapp.delay_ms"] = delay
        span = tracer().start_span(
            f"enqueue {message.actor_name}",
            context=carried,
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        )
        message.options[OPTION] = carrier_of(span)
        pending[message.message_id] = span

    def after_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None
    ) -> None:
        span = self._pending().pop(message.message_id, None)
        if span is not None:
            span.end()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        if not tracing_on():
            return
        span = tracer().start_span(
            f"process {message.actor_name}",
            context=context_from(message.options.get(OPTION)),
            kind=SpanKind.CONSUMER,
            attributes=_attributes(message, "process"),
        )
        self._local.current = (span, context.attach(trace.set_span_in_context(span)))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        current = getattr(self._local, "current", None)
        if current is None:
            return
        self._local.current = None
        span, token = current
        if exception is not None:
            record_exception(span, exception)
        span.end()
        context.detach(token)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        current = getattr(self._local, "current", None)
        if current is not None:
            current[0].set_attribute("mailapp.skipped", True)
        self.after_process_message(broker, message)
