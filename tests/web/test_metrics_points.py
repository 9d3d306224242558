"""The counters move where things happen: a genuine tracking hit, a webhook attempt, an import's
rows, a rate limit holding messages back. Read from this process's registry (no
PROMETHEUS_MULTIPROC_DIR in tests: /metrics then reports the answering process)."""

from __future__ import annotations

import io

import pytest
from prometheus_client import REGISTRY

from mailapp.audience.imports.runs import run_import
from mailapp.audience.imports.wizard import create_import, set_mapping, start_import
from mailapp.delivery.ratelimits import RateLimiter
from mailapp.delivery.throttles import ThrottlePolicy
from mailapp.extensions import db, get_redis
from mailapp.integrations.webhooks import create_endpoint, deliver_due, publish_event
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sender,
    make_sent_campaign,
)
from tests.support.http_receiver import Receiver


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_genuine_tracking_hits_count_and_forged_ones_do_not(app, client):
    project = make_project()
    campaign = make_sent_campaign(project, ["https://shop.example.com/"])
    delivery = make_delivery(campaign, make_contact(project))
    pixel = LinkSigner.from_app().open_url(delivery.id).removeprefix("http://mail.test")
    before = sample("mailapp_tracking_hits_total", event="open")
    assert client.get(pixel).status_code == 200
    assert client.get("/t/o/forged-token").status_code == 200  # the pixel, no event
    client.head(pixel)  # a link checker: no event either
    assert sample("mailapp_tracking_hits_total", event="open") == before + 1


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_webhook_attempts_count_by_result(app, receiver):
    project = make_project()
    create_endpoint(project.id, receiver.url, allow_private=True, actor=TEST_ACTOR)
    publish_event(project.id, "delivered", {})
    db.session.commit()
    receiver.statuses = [500]
    retrying = sample("mailapp_webhook_attempts_total", result="retrying")
    delivered = sample("mailapp_webhook_attempts_total", result="delivered")
    deliver_due()
    assert sample("mailapp_webhook_attempts_total", result="retrying") == retrying + 1
    deliver_due(now=utcnow().replace(year=utcnow().year + 1))
    assert sample("mailapp_webhook_attempts_total", result="delivered") == delivered + 1


def test_import_rows_count(app, tmp_path):
    project = make_project()
    rows = "".join(f"row{i}@example.com\n" for i in range(12))
    job = create_import(
        project.id,
        "people.csv",
        io.BytesIO(("email\n" + rows).encode()),
        upload_dir=tmp_path / "uploads",
        actor=TEST_ACTOR,
    )
    set_mapping(project.id, job.id, job.mapping, actor=TEST_ACTOR)
    start_import(project.id, job.id, actor=TEST_ACTOR)
    before = sample("mailapp_import_rows_total")
    run_import(job.id)
    assert sample("mailapp_import_rows_total") == before + 12


def test_a_rate_limit_holding_messages_back_counts_as_a_wait(app):
    project = make_project()
    limiter = RateLimiter(
        get_redis(),
        project,
        make_sender(project, rate_per_second=2),
        ThrottlePolicy(rate=2),
    )
    before = sample("mailapp_rate_limit_waits_total", limit="sender per second")
    now = utcnow()
    assert limiter.acquire("others", 2, now).granted == 2
    assert sample("mailapp_rate_limit_waits_total", limit="sender per second") == before
    assert limiter.acquire("others", 3, now).granted == 0
    assert sample("mailapp_rate_limit_waits_total", limit="sender per second") == before + 1
