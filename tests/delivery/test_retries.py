"""Retries like an MTA: the queue lifetime, growing waits, throttles not counted; the
project's own lifetime, set and audited like every sending rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailapp.access.project_settings import update_sending_settings
from mailapp.access.validation import InvalidSettings
from mailapp.delivery.retries import RetryPolicy, expired_reason
from mailapp.extensions import db
from mailapp.models import AuditLog
from tests.factories import TEST_ACTOR, make_project

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy((60, 300, 1800), timedelta(days=5))


def test_waits_grow_then_repeat_the_last_step():
    waits = [
        POLICY.retry_at(attempts=n, first_deferred_at=NOW, now=NOW) - NOW for n in (1, 2, 3, 9)
    ]
    assert waits == [timedelta(seconds=s) for s in (60, 300, 1800, 1800)]


def test_a_throttle_waits_the_shortest_step_whatever_the_attempts():
    assert POLICY.retry_at(attempts=7, first_deferred_at=NOW, now=NOW, throttled=True) == (
        NOW + timedelta(seconds=60)
    )


def test_the_last_try_falls_on_the_lifetime_end_then_it_is_given_up():
    first = NOW - timedelta(days=5) + timedelta(seconds=100)
    assert POLICY.retry_at(attempts=40, first_deferred_at=first, now=NOW) == (
        first + timedelta(days=5)
    )
    end = first + timedelta(days=5)
    assert POLICY.retry_at(attempts=41, first_deferred_at=first, now=end) is None
    assert expired_reason(POLICY) == "expired: still deferred after 5 days"


def test_the_project_sets_its_own_lifetime(app):
    project = make_project()
    assert RetryPolicy.for_project(project).lifetime == timedelta(days=5)
    with pytest.raises(InvalidSettings) as refused:
        update_sending_settings(project, {"retry_hours": "0"}, actor=TEST_ACTOR)
    assert "retry_hours" in refused.value.errors
    db.session.rollback()
    changed = update_sending_settings(project, {"retry_hours": "48"}, actor=TEST_ACTOR)
    assert changed == {"retry_hours": {"old": None, "new": 48}}
    policy = RetryPolicy.for_project(db.session.get(type(project), project.id))
    assert policy.lifetime == timedelta(hours=48)
    assert expired_reason(policy) == "expired: still deferred after 2 days"
    entry = db.session.query(AuditLog).filter_by(action="project.settings").one()
    assert entry.context["changes"]["retry_hours"]["new"] == 48


def test_transactional_mail_is_retried_for_the_lifetime_and_throttles_are_not_counted(app):
    import sqlalchemy as sa

    from mailapp.delivery import transactional_send
    from mailapp.delivery.transactional import submit_message
    from mailapp.models import DeliveryStatus, Message
    from mailapp.models.base import utcnow
    from tests.factories import make_sender
    from tests.support.smtp_sink import SmtpSink

    sink = SmtpSink().start()
    app.config["SMTP_URL"] = sink.url
    try:
        project = make_project()
        sender = make_sender(project)
        message, _ = submit_message(
            project,
            actor=TEST_ACTOR,
            to="slow@example.org",
            sender_id=sender.id,
            content={"subject": "Your receipt", "html": "<p>Thanks</p>", "text": "Thanks"},
        )

        def attempt(reply: str) -> Message:
            sink.rcpt_rules["slow@example.org"] = reply
            db.session.execute(
                sa.update(Message).where(Message.id == message.id).values(scheduled_at=utcnow())
            )
            db.session.commit()
            transactional_send.send_message(message.id)
            db.session.expire_all()
            return db.session.get(Message, message.id)

        throttled = attempt("421 4.7.0 slow down")
        assert (throttled.status, throttled.attempts) == (DeliveryStatus.DEFERRED, 0)
        first = throttled.first_deferred_at
        assert first is not None
        deferred = attempt("451 4.3.0 try later")
        assert (deferred.status, deferred.attempts, deferred.first_deferred_at) == (
            DeliveryStatus.DEFERRED,
            1,
            first,
        )
        db.session.execute(
            sa.update(Message)
            .where(Message.id == message.id)
            .values(first_deferred_at=utcnow() - timedelta(days=5, seconds=1))
        )
        failed = attempt("451 4.3.0 still later")
        assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 2)
        assert failed.reason == "expired: still deferred after 5 days"
        assert failed.last_reply == "451 4.3.0 still later"
        assert sink.messages == []
    finally:
        sink.stop()
        transactional_send.transport_pool().close()
