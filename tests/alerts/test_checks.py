"""The periodic checks raise each alert under its condition, and not otherwise: bounce and
complaint rates of the last hour, a webhook receiver failing N times in a row, a worker or the
scheduler gone silent (real Redis heartbeats), a Dramatiq queue growing for N minutes (real
Redis lists, the broker's own layout)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.alerts.checks import run_checks
from mailapp.alerts.settings import update_alert_settings
from mailapp.extensions import db, get_redis
from mailapp.integrations.webhooks import create_endpoint
from mailapp.models import (
    Alert,
    AlertKind,
    AlertMailState,
    AttemptStatus,
    DeliveryStatus,
    Event,
    EventType,
    Message,
    WebhookAttempt,
)
from mailapp.models.base import utcnow
from mailapp.runtime.health import HEARTBEATS_KEY
from tests.factories import TEST_ACTOR, make_project
from workers.actors.alerts import send_alert
from workers.broker import broker


def kinds() -> list[str]:
    return sorted(a.kind.value for a in db.session.scalars(sa.select(Alert)).all())


def sent_mail(project, count: int, minutes_ago: float = 10) -> None:
    when = utcnow() - timedelta(minutes=minutes_ago)
    db.session.add_all(
        Message(
            project_id=project.id,
            recipient=f"r{i}@example.org",
            status=DeliveryStatus.SENT,
            sent_at=when,
        )
        for i in range(count)
    )
    db.session.commit()


def events(project, kind: EventType, count: int, minutes_ago: float = 5) -> None:
    when = utcnow() - timedelta(minutes=minutes_ago)
    db.session.add_all(
        Event(project_id=project.id, type=kind, occurred_at=when) for _ in range(count)
    )
    db.session.commit()


@pytest.fixture
def client(app):
    return get_redis()


def test_bounce_rate_over_the_threshold_raises_its_alert(app, client):
    project = make_project()
    sent_mail(project, 200)
    events(project, EventType.BOUNCE_HARD, 10)  # 5 %: at the default threshold, not over
    assert run_checks(client) == {}
    events(project, EventType.BOUNCE_HARD, 1)
    assert run_checks(client) == {"bounce_rate": 1}
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert alert.text.startswith("In the last hour 5.50 % of the 200 messages sent came back")


def test_complaint_rate_uses_the_projects_own_threshold(app, client):
    project = make_project()
    sent_mail(project, 1000)
    events(project, EventType.COMPLAINT, 2)  # 0.2 %: under the default 0.3 %
    assert run_checks(client) == {}
    update_alert_settings(project, {"complaint_percent": "0.1"}, actor=TEST_ACTOR)
    assert run_checks(client) == {"complaint_rate": 1}


def test_rates_need_a_sample_and_a_recent_window(app, client):
    small, old = make_project(), make_project()
    sent_mail(small, 50)
    events(small, EventType.BOUNCE_HARD, 25)  # half bounced, but only 50 messages
    sent_mail(old, 200, minutes_ago=120)
    events(old, EventType.BOUNCE_HARD, 100, minutes_ago=90)  # bad, but two hours ago
    assert run_checks(client) == {}


def failing_endpoint(project, failures: list[int]):
    endpoint, _ = create_endpoint(
        project.id, "https://hooks.example.com/in", allow_private=False, actor=TEST_ACTOR
    )
    for tries in failures:
        db.session.add(
            WebhookAttempt(
                project_id=project.id,
                endpoint_id=endpoint.id,
                event_type="open",
                payload={},
                status=AttemptStatus.PENDING if tries else AttemptStatus.SUCCEEDED,
                attempts=tries or 1,
                error="HTTP 500" if tries else None,
            )
        )
    db.session.commit()
    return endpoint


def test_a_webhook_failing_n_times_in_a_row_raises_its_alert(app, client):
    project = make_project()
    endpoint = failing_endpoint(project, [3, 0, 2, 2])  # a success, then 4 failures
    assert run_checks(client) == {}
    db.session.add(
        WebhookAttempt(
            project_id=project.id,
            endpoint_id=endpoint.id,
            event_type="open",
            payload={},
            attempts=1,
            error="TimeoutError: timed out",
        )
    )
    db.session.commit()
    assert run_checks(client) == {"webhooks_failing": 1}
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert (alert.subject, alert.link) == (f"endpoint:{endpoint.id}", "/admin/webhookattempt/")
    assert "failed 5 times in a row" in alert.text


def test_a_worker_that_stopped_beating_raises_worker_silent(app, client):
    make_project()
    now = time.time()
    client.hset(HEARTBEATS_KEY, "worker:host-a:1", now - 5)
    client.hset(HEARTBEATS_KEY, "scheduler:host-a:2", now - 5)
    client.hset(HEARTBEATS_KEY, "worker:host-b:3", now - 3 * 3600)  # long gone, said before
    assert run_checks(client) == {}
    client.hset(HEARTBEATS_KEY, "worker:host-b:4", now - 180)
    assert run_checks(client) == {"worker_silent": 1}


def test_a_silent_scheduler_raises_scheduler_silent(app, client):
    make_project()
    now = time.time()
    client.hset(HEARTBEATS_KEY, "worker:host-a:1", now - 5)
    client.hset(HEARTBEATS_KEY, "scheduler:host-a:2", now - 30)
    assert run_checks(client) == {}
    client.hset(HEARTBEATS_KEY, "scheduler:host-a:2", now - 300)
    client.hset(HEARTBEATS_KEY, "scheduler:host-b:3", now - 400)
    assert run_checks(client) == {"scheduler_silent": 1}


def fill_queue(client, queue: str, depth: int) -> None:
    """The Redis broker's layout: waiting ids in a list, bodies in a hash."""
    client.delete(f"dramatiq:{queue}", f"dramatiq:{queue}.msgs")
    for i in range(depth):
        client.rpush(f"dramatiq:{queue}", f"m{i}")
        client.hset(f"dramatiq:{queue}.msgs", f"m{i}", "{}")


def test_a_queue_growing_for_n_minutes_raises_queue_growing(app, client):
    project = make_project()
    update_alert_settings(project, {"queue_minutes": "10"}, actor=TEST_ACTOR)
    start = utcnow()
    fill_queue(client, "sending.DQ", 50)  # delayed messages are not waiting work
    for minute, depth in ((0, 5), (4, 9), (8, 9), (11, 20)):
        fill_queue(client, "sending", depth)
        if minute < 11:
            assert run_checks(client, now=start + timedelta(minutes=minute)) == {}
    assert run_checks(client, now=start + timedelta(minutes=11)) == {"queue_growing": 1}
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert alert.subject == "queue:sending"
    assert "'sending' has kept piling up for 11 minutes" in alert.text


def test_a_queue_that_drains_is_not_growing(app, client):
    project = make_project()
    update_alert_settings(project, {"queue_minutes": "10"}, actor=TEST_ACTOR)
    start = utcnow()
    for minute, depth in ((0, 30), (5, 40), (8, 12), (12, 20), (16, 25)):
        fill_queue(client, "sending", depth)
        assert run_checks(client, now=start + timedelta(minutes=minute)) == {}, minute
    # A steady backlog is not growing either.
    fill_queue(client, "sending", 0)
    fill_queue(client, "import", 7)
    for minute in (20, 30, 40):
        assert run_checks(client, now=start + timedelta(minutes=minute)) == {}


def test_alerts_turned_off_are_not_raised_by_the_checks(app, client):
    project = make_project()
    update_alert_settings(project, {"enabled": ["campaign_paused"]}, actor=TEST_ACTOR)
    sent_mail(project, 200)
    events(project, EventType.BOUNCE_HARD, 50)
    client.hset(HEARTBEATS_KEY, "scheduler:host-a:2", time.time() - 300)
    assert run_checks(client) == {}


def test_pending_mail_is_asked_for_again(app, client):
    project = make_project()
    db.session.add(
        Alert(
            project_id=project.id,
            kind=AlertKind.BOUNCE_RATE,
            subject="project",
            text="x",
            link="/admin/alerts/",
            mail_state=AlertMailState.PENDING,
            created_at=utcnow() - timedelta(minutes=5),
        )
    )
    db.session.commit()
    broker.flush(send_alert.queue_name)
    run_checks(client)
    assert broker.queues[send_alert.queue_name].qsize() == 1
