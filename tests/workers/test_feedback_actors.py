"""Feedback and webhook actors run their services under a real (stub) worker; jobs scheduled."""

import json

import sqlalchemy as sa
from dramatiq import Worker

from mailapp.extensions import db
from mailapp.integrations.webhooks import create_endpoint, publish_event
from mailapp.models import AttemptStatus, InboundMessage, WebhookAttempt
from tests.factories import TEST_ACTOR, make_project
from tests.support.dovecot import DovecotServer
from tests.support.http_receiver import Receiver
from workers.actors.feedback import poll_bounce_mailbox
from workers.actors.webhooks import deliver_due_webhooks
from workers.broker import broker
from workers.scheduler import JOBS


def run(actor) -> None:
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    try:
        actor.send()
        broker.join(actor.queue_name, fail_fast=True)
        worker.join()
    finally:
        worker.stop()
    db.session.expire_all()


def test_webhook_actor_sends_due_attempts(app):
    receiver = Receiver()
    try:
        project = make_project()
        create_endpoint(project.id, receiver.url, allow_private=True, actor=TEST_ACTOR)
        publish_event(project.id, "complaint", {"email": "a@example.org"})
        db.session.commit()
        run(deliver_due_webhooks)
        assert db.session.scalar(sa.select(WebhookAttempt.status)) == AttemptStatus.SUCCEEDED
        [(_, _, body)] = receiver.requests
        assert json.loads(body)["type"] == "complaint"
    finally:
        receiver.close()


def test_mailbox_actor_polls_the_configured_mailbox(app):
    dovecot = DovecotServer().start()
    try:
        dovecot.deliver(b"From: x@example.org\r\nSubject: hello\r\n\r\nnot a bounce\r\n")
        app.config["BOUNCE_MAILBOX_URL"] = dovecot.url("imap")
        run(poll_bounce_mailbox)
        assert db.session.scalar(sa.select(InboundMessage.source)) == "imap"
    finally:
        dovecot.stop()


def test_feedback_jobs_are_scheduled():
    actors = {job.actor: job for job in JOBS}
    assert actors["workers.actors.feedback:poll_bounce_mailbox"].trigger == "interval"
    assert actors["workers.actors.webhooks:deliver_due_webhooks"].trigger_args["seconds"] <= 30
