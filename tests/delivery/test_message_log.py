"""Transactional messages keep what the activity log shows: tags, every SMTP attempt with its
reply, hourly counts per template and tag, and resends as new messages."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
import sqlalchemy as sa

from mailapp.delivery.batches import transport_pool
from mailapp.delivery.message_tags import clean_tags, project_tags
from mailapp.delivery.resend import resend_message
from mailapp.delivery.transactional_send import send_message
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.models import (
    AuditLog,
    DeliveryStatus,
    EventType,
    Message,
    MessageAttempt,
    MessageStat,
    MessageTag,
)
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_project, make_sender, make_template, submit_tx
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def sink(app):
    sink = SmtpSink().start()
    app.config["SMTP_URL"] = sink.url
    yield sink
    sink.stop()
    transport_pool().close()


@pytest.fixture
def project(app):
    project = make_project("shop")
    make_sender(project)
    return project


def stats(project, dimension="all", value=""):
    rows = db.session.execute(
        sa.select(MessageStat.metric, sa.func.sum(MessageStat.count))
        .where(
            MessageStat.project_id == project.id,
            MessageStat.dimension == dimension,
            MessageStat.value == value,
        )
        .group_by(MessageStat.metric)
    )
    return Counter({metric: int(n) for metric, n in rows})


def test_tags_are_cleaned_and_refused_with_the_field_named(app):
    assert clean_tags([" Password-Reset ", "password-reset", "receipt"]) == [
        "password-reset",
        "receipt",
    ]
    assert clean_tags(None) == []
    for bad, words in [
        ("receipt", "list of strings"),
        (["a", "b", "c", "d", "e", "f"], "at most 5"),
        (["has space"], "is not a tag"),
        (["x" * 65], "is not a tag"),
        ([3], "list of strings"),
    ]:
        with pytest.raises(ServiceError, match=words) as refused:
            clean_tags(bad)
        assert str(refused.value).startswith("tags:")


def test_a_refused_tag_saves_nothing(project):
    with pytest.raises(ServiceError):
        submit_tx(project, tags=["ok", "not ok"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_each_attempt_is_kept_with_its_reply_and_counted_by_template_and_tag(project, sink):
    template = make_template(project, html="<p>Reset: {{ data.link }}</p>", subject="Reset")
    message = submit_tx(project, tags=["password-reset", "auth"], template_id=template.id)
    assert message.template_id == template.id
    sink.rcpt_rules["ada@example.org"] = "451 4.7.1 greylisted, try again later"
    assert send_message(message.id) == "deferred"
    del sink.rcpt_rules["ada@example.org"]
    db.session.get(Message, message.id).scheduled_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert send_message(message.id) == "sent"

    attempts = db.session.scalars(
        sa.select(MessageAttempt).where(MessageAttempt.message_id == message.id)
    ).all()
    assert [a.outcome for a in attempts] == ["deferred", "sent"]
    assert "451 4.7.1 greylisted" in attempts[0].reply
    assert attempts[1].reply.startswith("250")
    for dimension, value in [
        ("all", ""),
        ("template", str(template.id)),
        ("tag", "password-reset"),
        ("tag", "auth"),
    ]:
        counts = stats(project, dimension, value)
        assert counts["accepted"] == 1
        assert counts["sent"] == 1
        assert sum(n for m, n in counts.items() if m.startswith("latency_")) == 1
    assert project_tags(project.id) == ["auth", "password-reset"]


def test_refused_at_send_counts_as_sent_and_bounced(project, sink):
    message = submit_tx(project, "gone@example.org", tags=["receipt"])
    sink.rcpt_rules["gone@example.org"] = "550 5.1.1 no such user"
    assert send_message(message.id) == "failed"
    counts = stats(project, "tag", "receipt")
    assert (counts["sent"], counts["bounce_hard"]) == (1, 1)
    assert not any(m.startswith("latency_") for m in counts)  # never accepted


def test_unique_opens_count_each_message_once_and_machines_apart(project):
    first, second = submit_tx(project, tags=["receipt"]), submit_tx(project, "bob@example.org")
    now = utcnow()

    def hit(message, kind, machine=False, minutes=0):
        return {
            "project_id": project.id,
            "type": kind,
            "occurred_at": now + timedelta(minutes=minutes),
            "message_id": message.id,
            "is_machine": machine,
        }

    record_events([hit(first, EventType.OPEN), hit(first, EventType.OPEN, minutes=1)])
    record_events([hit(first, EventType.OPEN, minutes=2), hit(second, EventType.OPEN, True)])
    record_events([hit(first, EventType.CLICK), hit(second, EventType.CLICK, True)])
    counts = stats(project)
    assert counts["open"] == 3
    assert counts["unique_open"] == 1
    assert counts["machine_open"] == 1
    assert (counts["unique_click"], counts["machine_click"]) == (1, 1)
    assert stats(project, "tag", "receipt")["unique_open"] == 1
    assert db.session.get(Message, first.id).first_opened_at == now
    assert db.session.get(Message, second.id).first_opened_at is None


def test_resend_is_a_new_audited_message_with_the_same_content_and_tags(project, sink):
    original = submit_tx(project, tags=["receipt"], data={"name": "Ada"})
    send_message(original.id)
    copy = resend_message(project, original.id, actor=TEST_ACTOR)
    assert copy.id != original.id
    assert copy.resend_of_id == original.id
    assert copy.content == original.content
    assert copy.data == {"name": "Ada"}
    assert db.session.scalars(
        sa.select(MessageTag.tag).where(MessageTag.message_id == copy.id)
    ).all() == ["receipt"]
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "message.resend"))
    assert entry.context["new_message_id"] == copy.id
    assert send_message(copy.id) == "sent"
    assert [r for m in sink.messages for r in m.rcpt_tos] == ["ada@example.org"] * 2
    assert f"message.{copy.id}@" in sink.messages[1].data.decode()


def test_resend_keeps_the_template_version_the_first_one_had(project):
    template = make_template(project, subject="Old subject")
    original = submit_tx(project, template_id=template.id)
    db.session.get(Message, original.id).status = DeliveryStatus.SENT
    db.session.commit()
    copy = resend_message(project, original.id, actor=TEST_ACTOR)
    assert copy.template_version_id == original.template_version_id
    assert copy.template_id == template.id


def test_resend_is_refused_while_the_first_is_in_flight_or_elsewhere(project):
    queued = submit_tx(project)
    with pytest.raises(ServiceError, match="still queued"):
        resend_message(project, queued.id, actor=TEST_ACTOR)
    other = make_project("other")
    with pytest.raises(Exception, match="no such message"):
        resend_message(other, queued.id, actor=TEST_ACTOR)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1


def test_open_tracking_is_opt_in_per_message(project, sink):
    plain = submit_tx(project, "plain@example.org")
    tracked = submit_tx(project, "tracked@example.org", track_opens=True)
    send_message(plain.id)
    send_message(tracked.id)
    bodies = {
        m.rcpt_tos[0]: BytesParser(policy=policy.default)
        .parsebytes(m.data)
        .get_body(preferencelist=("html",))
        .get_content()
        for m in sink.messages
    }
    assert "/t/o/" not in bodies["plain@example.org"]
    assert "/t/o/" in bodies["tracked@example.org"]
    with pytest.raises(ServiceError, match=r"^track_opens:"):
        submit_tx(project, track_opens="yes")
