"""Tracing across processes: a real worker and scheduler started with OTEL_EXPORTER_OTLP_ENDPOINT
pointing at a real OTLP/HTTP receiver; the trace goes through Redis in the message."""

from __future__ import annotations

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.models import Message
from mailapp.runtime.tracing import setup_tracing, shutdown_tracing
from tests.e2e.conftest import running_stack
from tests.factories import TEST_ACTOR, make_project, make_sender
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.smtp_sink import SmtpSink
from workers.actors.sending import send_message
from workers.broker import broker as stub_broker

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver():
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def test_the_workers_spans_continue_the_trace_that_enqueued(
    postgres_server_url, postgres_template, tmp_path_factory, receiver
):
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "WORKER_PROCESSES": "1",
    }
    sink = SmtpSink().start()
    stack_cm = running_stack(postgres_server_url, postgres_template, tmp_path_factory, **otel)
    with stack_cm as stack:
        assert setup_tracing("web", {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})
        try:
            with stack.app.app_context():
                project = make_project()
                make_sender(project, transport_url=sink.url)
                _, key = create_api_key(project.id, "shop", ["campaigns.send"], actor=TEST_ACTOR)
            body = {"to": "ada@example.org", "content": {"subject": "Hi", "html": "<p>Hi</p>"}}
            response = stack.app.test_client().post(
                "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 201, response.json
            # What the web tier enqueued, trace included, handed to the stack's Redis as
            # its own broker would have (this process's broker is the tests' stub).
            queued = stub_broker.queues[send_message.queue_name]
            raw = queued.get_nowait()
            queued.task_done()  # or a later join on this queue would wait for it forever
            redis_broker = RedisBroker(url=stack.redis.url)
            redis_broker.declare_queue(send_message.queue_name)
            redis_broker.enqueue(dramatiq.Message.decode(raw))
            redis_broker.close()

            def sent() -> bool:
                return db.session.get(Message, response.json["id"]).status.value == "sent"

            stack.wait_for(sent, timeout=30)
        finally:
            shutdown_tracing()
        receiver.wait_for(
            lambda spans: (
                any(s.name == "smtp send" for s in spans)
                and any(s.service == "mailapp-scheduler" for s in spans)
                and any(s.name == "process dispatch" for s in spans)
            )
        )
    sink.stop()

    (http,) = receiver.named("POST /api/v1/messages")
    (enqueued,) = receiver.named("enqueue send_message")
    in_trace = [s for s in receiver.spans if s.trace_id == http.trace_id]
    (processed,) = [s for s in in_trace if s.name == "process send_message"]
    (smtp,) = [s for s in in_trace if s.name == "smtp send"]
    assert (http.service, enqueued.service) == ("mailapp-web", "mailapp-web")
    assert (processed.service, smtp.service) == ("mailapp-worker", "mailapp-worker")
    assert enqueued.parent_id == http.span_id
    assert processed.parent_id == enqueued.span_id
    assert smtp.parent_id == processed.span_id
    assert smtp.attributes["smtp.reply.code"] == 250

    # The scheduler's ticks: its job span, its enqueue, then the worker's processing of it.
    ticks = {s.span_id: s for s in receiver.spans if s.service == "mailapp-scheduler"}
    tick = next(s for s in receiver.named("process dispatch") if s.parent_id in ticks)
    enqueue_tick = ticks[tick.parent_id]
    assert enqueue_tick.name == "enqueue dispatch"
    assert ticks[enqueue_tick.parent_id].name == "scheduler dispatch-deliveries"
    assert tick.service == "mailapp-worker"
    assert b"ada@example.org" not in b"".join(receiver.bodies)
