"""Outbound webhooks against a real HTTP server on 127.0.0.1: signature, retries, refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.integrations.webhooks import (
    BACKOFF,
    Refused,
    create_endpoint,
    deliver_due,
    publish_event,
    resolve_public,
)
from mailapp.models import AttemptStatus, WebhookAttempt
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_project
from tests.support.http_receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def attempts():
    return db.session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()


def test_signed_event_reaches_the_endpoint(app, receiver):
    with app.app_context():
        project = make_project()
        _endpoint, secret = create_endpoint(
            project.id,
            receiver.url,
            event_types=["bounce_hard"],
            allow_private=True,
            actor=TEST_ACTOR,
        )
        assert publish_event(project.id, "open", {"email": "a@example.org"}) == 0  # filtered
        assert publish_event(project.id, "bounce_hard", {"email": "a@example.org"}) == 1
        db.session.commit()
        assert deliver_due() == 1

        [(path, headers, body)] = receiver.requests
        assert path == "/hooks/mailapp?x=1"
        expected = hmac.new(
            secret.encode(), headers["X-Mailapp-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Mailapp-Signature"] == f"v1={expected}"
        assert headers["X-Mailapp-Event"] == "bounce_hard"
        payload = json.loads(body)
        assert (payload["type"], payload["data"]) == ("bounce_hard", {"email": "a@example.org"})
        [attempt] = attempts()
        assert (attempt.status, attempt.attempts, attempt.response_code) == (
            AttemptStatus.SUCCEEDED,
            1,
            200,
        )
        assert attempt.delivered_at is not None
        assert deliver_due() == 0  # nothing sent twice


def test_failures_are_retried_with_backoff_then_succeed(app, receiver):
    with app.app_context():
        project = make_project()
        create_endpoint(project.id, receiver.url, allow_private=True, actor=TEST_ACTOR)
        publish_event(project.id, "complaint", {"email": "a@example.org"})
        db.session.commit()
        receiver.statuses = [500, 503]
        before = utcnow()
        deliver_due()
        [attempt] = attempts()
        assert (attempt.status, attempt.attempts, attempt.response_code) == (
            AttemptStatus.PENDING,
            1,
            500,
        )
        assert attempt.next_attempt_at >= before + timedelta(seconds=BACKOFF[0])
        assert deliver_due() == 0  # not due yet
        deliver_due(now=attempt.next_attempt_at)
        db.session.expire_all()
        [attempt] = attempts()
        assert (attempt.attempts, attempt.response_code) == (2, 503)
        deliver_due(now=attempt.next_attempt_at)
        db.session.expire_all()
        [attempt] = attempts()
        assert (attempt.status, attempt.attempts) == (AttemptStatus.SUCCEEDED, 3)
        # Every retry of one event carries the same event id and delivery id.
        ids = {json.loads(body)["id"] for _, _, body in receiver.requests}
        assert len(receiver.requests) == 3
        assert len(ids) == 1


def test_gives_up_after_the_last_backoff_step(app, receiver):
    with app.app_context():
        project = make_project()
        create_endpoint(project.id, receiver.url, allow_private=True, actor=TEST_ACTOR)
        publish_event(project.id, "delivered", {})
        db.session.commit()
        receiver.statuses = [500] * (len(BACKOFF) + 1)
        when = utcnow()
        for _ in range(len(BACKOFF) + 1):
            deliver_due(now=when)
            db.session.expire_all()
            when = attempts()[0].next_attempt_at or when
        [attempt] = attempts()
        assert (attempt.status, attempt.attempts) == (AttemptStatus.FAILED, len(BACKOFF) + 1)


def test_redirects_are_not_followed(app, receiver):
    with app.app_context():
        project = make_project()
        create_endpoint(project.id, receiver.url, allow_private=True, actor=TEST_ACTOR)
        publish_event(project.id, "delivered", {})
        db.session.commit()
        receiver.statuses = [302]
        deliver_due()
        [attempt] = attempts()
        assert attempt.response_code == 302
        assert "redirects are not followed" in attempt.error
        assert [path for path, _, _ in receiver.requests] == ["/hooks/mailapp?x=1"]


def test_private_target_is_refused_without_the_operator_flag(app, receiver):
    with app.app_context():
        project = make_project()
        create_endpoint(project.id, receiver.url, actor=TEST_ACTOR)
        local = receiver.url.replace("127.0.0.1", "localhost")
        create_endpoint(project.id, local, actor=TEST_ACTOR)
        publish_event(project.id, "delivered", {})
        db.session.commit()
        deliver_due()
        for attempt in attempts():
            assert attempt.status == AttemptStatus.FAILED
            assert "non-public address" in attempt.error
        assert receiver.requests == []


NON_PUBLIC = ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fd00::1"]


@pytest.mark.parametrize("host", [*NON_PUBLIC, "0.0.0.0"])  # noqa: S104 - a target, not a bind
def test_non_public_addresses_are_refused(host):
    with pytest.raises(Refused):
        resolve_public(host, 80, allow_private=False)
    assert resolve_public(host, 80, allow_private=True)


def test_endpoint_urls_are_validated(app):
    with app.app_context():
        project = make_project()
        for url in ("ftp://example.com/x", "javascript:alert(1)", "https://u:p@example.com/"):
            with pytest.raises(ServiceError):
                create_endpoint(project.id, url, actor=TEST_ACTOR)
        with pytest.raises(ServiceError):
            create_endpoint(project.id, "https://example.com/", event_types=["x"], actor=TEST_ACTOR)


def test_feedback_events_are_published(app, receiver):
    from mailapp.feedback.inbound import ingest_message
    from tests.support.bounces import dsn, sent_delivery

    with app.app_context():
        project = make_project()
        create_endpoint(project.id, receiver.url, allow_private=True, actor=TEST_ACTOR)
        contact, delivery, verp = sent_delivery(app, project)
        ingest_message(
            dsn(verp, contact.email, "5.1.1", "550 5.1.1 no such user"),
            source="pipe",
            actor=TEST_ACTOR,
        )
        deliver_due()
        [(_, headers, body)] = receiver.requests
        data = json.loads(body)["data"]
        assert headers["X-Mailapp-Event"] == "bounce_hard"
        assert (data["email"], data["delivery_id"]) == (contact.email, delivery.id)
        assert data["details"]["status"] == "5.1.1"
