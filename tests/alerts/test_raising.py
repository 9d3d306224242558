"""Raising an alert: deduplicated per kind and subject within the cool-down, off when the
project turned it off, and published as `alert.raised` to subscribed webhook endpoints."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.alerts.raising import raise_alert, raise_dns_worse, raise_everywhere
from mailapp.alerts.settings import update_alert_settings
from mailapp.extensions import db
from mailapp.integrations.webhooks import create_endpoint, deliver_due
from mailapp.models import Alert, AlertKind, AttemptStatus, WebhookAttempt
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_project
from tests.support.http_receiver import Receiver
from workers.actors.alerts import send_alert
from workers.broker import broker

K = AlertKind.QUEUE_GROWING


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def count_alerts() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Alert))


def test_the_same_alert_is_not_repeated_within_the_cool_down(app):
    project = make_project()
    now = utcnow()
    first = raise_alert(project, K, "queue:sending", "piling up", now=now)
    assert first is not None
    soon = now + timedelta(minutes=59)
    assert raise_alert(project, K, "queue:sending", "still", now=soon) is None
    # Another subject, or another kind, is another alert.
    assert raise_alert(project, K, "queue:import", "piling up", now=now) is not None
    assert raise_alert(project, AlertKind.WORKER_SILENT, "queue:sending", "x", now=now)
    # After the cool-down it is said again.
    later = raise_alert(project, K, "queue:sending", "again", now=now + timedelta(minutes=61))
    assert later is not None
    assert count_alerts() == 4
    # Each raised alert asked a worker for its mail.
    assert broker.queues[send_alert.queue_name].qsize() == 4


def test_the_cool_down_is_per_project_and_configurable(app):
    app.config["ALERT_COOLDOWN_MINUTES"] = 5
    one, two = make_project(), make_project()
    now = utcnow()
    assert raise_alert(one, K, "queue:sending", "x", now=now)
    assert raise_alert(two, K, "queue:sending", "x", now=now)
    assert raise_alert(one, K, "queue:sending", "x", now=now + timedelta(minutes=6))
    assert count_alerts() == 3


def test_an_alert_turned_off_is_not_raised(app):
    project = make_project()
    update_alert_settings(project, {"enabled": [AlertKind.CAMPAIGN_PAUSED.value]}, actor=TEST_ACTOR)
    assert raise_alert(project, K, "queue:sending", "x") is None
    assert raise_everywhere(K, "queue:sending", "x") == 0
    assert count_alerts() == 0


def test_a_system_wide_alert_reaches_every_project_that_wants_it(app):
    one, two, off = make_project(), make_project(), make_project()
    update_alert_settings(off, {"enabled": []}, actor=TEST_ACTOR)
    assert raise_everywhere(AlertKind.SCHEDULER_SILENT, "scheduler", "silent") == 2
    projects = set(db.session.scalars(sa.select(Alert.project_id)).all())
    assert projects == {one.id, two.id}


def test_the_webhook_event_is_queued_for_subscribed_endpoints_and_signed(app, receiver):
    project = make_project()
    create_endpoint(
        project.id, receiver.url, event_types=["alert.raised"], allow_private=True, actor=TEST_ACTOR
    )
    create_endpoint(
        project.id, receiver.url, event_types=["open"], allow_private=True, actor=TEST_ACTOR
    )
    alert = raise_dns_worse(project, "Example.com", "DKIM record no longer found")
    assert alert.webhooks_queued == 1
    [attempt] = db.session.scalars(sa.select(WebhookAttempt)).all()
    assert attempt.event_type == "alert.raised"
    assert deliver_due() == 1
    [(_, headers, body)] = receiver.requests
    assert headers["X-Mailapp-Event"] == "alert.raised"
    payload = json.loads(body)
    assert payload["data"] == {
        "alert_id": alert.id,
        "kind": "dns_worse",
        "title": "A sending domain's DNS check got worse",
        "subject": "domain:example.com",
        "text": "DKIM record no longer found",
        "url": "http://mail.test/admin/sender/",
    }
    assert db.session.get(WebhookAttempt, attempt.id).status == AttemptStatus.SUCCEEDED


def test_no_subscribed_endpoint_means_no_webhook(app, receiver):
    project = make_project()
    create_endpoint(
        project.id, receiver.url, event_types=["click"], allow_private=True, actor=TEST_ACTOR
    )
    alert = raise_alert(project, K, "queue:sending", "x")
    assert alert.webhooks_queued == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookAttempt)) == 0
