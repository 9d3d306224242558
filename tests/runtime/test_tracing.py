"""Tracing in one process: the spans a real OTLP/HTTP receiver gets from an API call through
the stub broker's worker to the real SMTP sink, and nothing at all when tracing is off."""

from __future__ import annotations

import logging
import threading

import pytest
from dramatiq import Message as QueuedMessage

from mailapp.access.apikeys import create_api_key
from mailapp.config import ConfigError
from mailapp.runtime import tracing
from mailapp.runtime.logs import ContextFilter
from mailapp.runtime.tracing import setup_tracing, shutdown_tracing, traced_job, tracing_wanted
from tests.factories import TEST_ACTOR, make_project, make_sender
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.pipeline import run_queue
from tests.support.smtp_sink import SmtpSink
from workers.actors.sending import dispatch, send_message
from workers.broker import broker
from workers.scheduler import enqueue

SERVER, PRODUCER, CONSUMER, CLIENT = 2, 4, 5, 3  # OTLP's SpanKind numbers
ERROR = 2  # OTLP's Status.STATUS_CODE_ERROR


@pytest.fixture
def receiver():
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def traced(receiver):
    """Tracing on in this process, exporting to the receiver; `.flush()` sends what is held."""
    assert setup_tracing("web", {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})
    yield receiver
    shutdown_tracing()


@pytest.fixture
def sink(app):
    from mailapp.delivery.batches import transport_pool

    sink = SmtpSink().start()
    app.config["SMTP_URL"] = sink.url
    yield sink
    sink.stop()
    transport_pool().close()


def _send_through_api(client) -> int:
    project = make_project("acme")
    make_sender(project)
    _, key = create_api_key(project.id, "shop", ["campaigns.send"], actor=TEST_ACTOR)
    body = {
        "to": "Ada.Lovelace@Example.org",
        "content": {"subject": "Your receipt", "html": "<p>Order 777 is on its way.</p>"},
    }
    response = client.post(
        "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def _queued(queue_name: str) -> list[QueuedMessage]:
    return [QueuedMessage.decode(raw) for raw in list(broker.queues[queue_name].queue)]


def test_one_trace_from_the_api_call_through_the_queue_to_the_smtp_transaction(
    app, client, sink, traced
):
    _send_through_api(client)
    (queued,) = _queued(send_message.queue_name)
    assert queued.options["trace"]["traceparent"].startswith("00-")
    run_queue(send_message.queue_name)
    assert len(sink.messages) == 1
    shutdown_tracing()  # sends what the batch processor still holds

    (http,) = traced.named("POST /api/v1/messages")
    (enqueued,) = traced.named("enqueue send_message")
    (processed,) = traced.named("process send_message")
    (smtp,) = traced.named("smtp send")
    assert {s.trace_id for s in (http, enqueued, processed, smtp)} == {http.trace_id}
    assert http.parent_id == ""  # the root
    assert (enqueued.parent_id, processed.parent_id) == (http.span_id, enqueued.span_id)
    assert smtp.parent_id == processed.span_id
    assert [s.kind for s in (http, enqueued, processed, smtp)] == [
        SERVER,
        PRODUCER,
        CONSUMER,
        CLIENT,
    ]
    assert http.service == "mailapp-web"
    assert http.attributes["http.route"] == "/api/v1/messages"
    assert http.attributes["http.response.status_code"] == 201
    assert processed.attributes["messaging.destination.name"] == "transactional"
    assert smtp.attributes["mailapp.recipient.domain"] == "example.org"
    assert smtp.attributes["smtp.reply.code"] == 250
    assert smtp.attributes["smtp.reply.class"] == "accepted"
    assert smtp.attributes["mailapp.outcome"] == "sent"
    assert smtp.attributes["server.address"] == "127.0.0.1"
    # What went over the wire names no address, no content, no key.
    sent = b"".join(traced.bodies)
    for secret in (b"Ada.Lovelace", b"ada.lovelace", b"Order 777", b"Bearer", b"receipt"):
        assert secret not in sent


def test_a_request_span_names_the_route_never_its_token_or_query(app, client, traced):
    client.get("/u/not-a-real-token-1234?email=ada%40example.org&key=s3cret")
    shutdown_tracing()
    (span,) = traced.named("GET /u/<token>")
    assert span.attributes["http.route"] == "/u/<token>"
    sent = b"".join(traced.bodies)
    for secret in (b"not-a-real-token-1234", b"example.org", b"s3cret"):
        assert secret not in sent


def test_a_scheduler_job_is_the_root_of_the_tick_it_enqueues(app, traced):
    traced_job("dispatch-deliveries", enqueue("workers.actors.sending:dispatch"))()
    (queued,) = _queued(dispatch.queue_name)
    shutdown_tracing()
    (job,) = traced.named("scheduler dispatch-deliveries")
    (enqueued,) = traced.named("enqueue dispatch")
    assert (enqueued.trace_id, enqueued.parent_id) == (job.trace_id, job.span_id)
    assert queued.options["trace"]["traceparent"].split("-")[1:3] == [
        enqueued.trace_id,
        enqueued.span_id,
    ]


def test_a_failure_is_recorded_with_its_message_redacted(traced):
    with pytest.raises(ValueError, match="cannot read"), tracing.span("import contacts"):
        raise ValueError("cannot read ada@example.org")
    shutdown_tracing()
    (span,) = traced.named("import contacts")
    assert span.status == ERROR
    assert span.events == ("exception",)
    assert b"ada@example.org" not in b"".join(traced.bodies)


def test_log_lines_name_the_current_trace(traced):
    def record() -> logging.LogRecord:
        line = logging.LogRecord("mailapp", logging.INFO, __file__, 1, "sent", None, None)
        ContextFilter().filter(line)
        return line

    with tracing.span("send batch") as current:
        inside = record()
    assert inside.trace_id == format(current.get_span_context().trace_id, "032x")
    assert not hasattr(record(), "trace_id")


def test_off_by_default_nothing_is_exported_and_no_message_carries_a_trace(
    app, client, sink, receiver
):
    assert not setup_tracing("web", {})
    assert isinstance(tracing.tracer(), tracing.trace.NoOpTracer)
    _send_through_api(client)
    (queued,) = _queued(send_message.queue_name)
    assert "trace" not in queued.options
    run_queue(send_message.queue_name)
    assert len(sink.messages) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("OtelBatch")]
    assert receiver.paths == []


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"TRACING": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"TRACING": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "TRACING": "otlp"}, False),
    ],
)
def test_tracing_is_on_only_when_the_environment_asks(env, wanted):
    assert tracing_wanted(env) is wanted


def test_an_unknown_tracing_choice_is_a_configuration_error():
    with pytest.raises(ConfigError, match="TRACING"):
        tracing_wanted({"TRACING": "jaeger"})


def test_spans_go_to_the_traces_endpoint():
    assert tracing.traces_endpoint({}) == "http://localhost:4318/v1/traces"
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}
    assert tracing.traces_endpoint(base) == "http://c:4318/v1/traces"
    given = {**base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/x"}
    assert tracing.traces_endpoint(given) == "http://t:1/x"


def test_a_message_enqueued_again_stays_in_the_trace_it_started(app, traced):
    with tracing.span("launch"):
        send_message.send(1)
    queue = broker.queues[send_message.queue_name]
    first = QueuedMessage.decode(queue.get_nowait())
    queue.task_done()
    broker.enqueue(first)  # as Retries and the delay queue enqueue a message again
    (again,) = _queued(send_message.queue_name)
    broker.flush_all()
    shutdown_tracing()
    (launch,) = traced.named("launch")
    enqueues = traced.named("enqueue send_message")
    assert {s.trace_id for s in enqueues} == {launch.trace_id}
    by_parent = {s.parent_id: s for s in enqueues}
    first_enqueue = by_parent[launch.span_id]
    second_enqueue = by_parent[first_enqueue.span_id]
    assert second_enqueue.span_id in again.options["trace"]["traceparent"]


def test_an_actor_that_raises_marks_its_processing_failed(traced):
    from workers.tracing import TraceMessages

    middleware = TraceMessages()
    message = QueuedMessage("transactional", "send_message", (1,), {}, {})
    middleware.before_process_message(broker, message)
    middleware.after_process_message(broker, message, exception=RuntimeError("ada@example.org"))
    shutdown_tracing()
    (span,) = traced.named("process send_message")
    assert span.status == ERROR
    assert span.events == ("exception",)
    assert b"ada@example.org" not in b"".join(traced.bodies)
