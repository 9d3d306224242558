"""GET /metrics: off without a token, 401 without the right one, and what it reports."""

from __future__ import annotations

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from prometheus_client.parser import text_string_to_metric_families

from mailapp.delivery import pipeline
from mailapp.delivery.ratelimits import RateLimiter
from mailapp.delivery.throttles import ThrottlePolicy
from mailapp.extensions import db
from mailapp.feedback.tracking import event_buffer
from mailapp.models import Campaign, CampaignStatus
from mailapp.runtime.health import beat
from mailapp.runtime.metrics import QUEUES_KEY
from tests.factories import make_campaign, make_list, make_project, make_sender, make_template
from tests.support.pipeline import launch, pipeline_sink, run_pipeline

TOKEN = "metrics-token-" + "t" * 24
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(app):
    app.config["METRICS_TOKEN"] = TOKEN
    return app


def scrape(client) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items: value} of every sample in the answer."""
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_metrics_are_off_without_a_configured_token(app, client):
    app.config["METRICS_TOKEN"] = None
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-some-length"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_metrics_refuse_a_missing_or_wrong_token(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.get_data(as_text=True)


def test_metrics_parse_and_count_requests_by_endpoint(client):
    before = scrape(client)
    client.get("/health")
    client.get("/no/such/page")
    after = scrape(client)
    health = {"endpoint": "health.health", "method": "GET", "status": "503"}
    assert value(after, "mailapp_http_requests_total", **health) == (
        value(before, "mailapp_http_requests_total", **health) + 1
    )
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert value(after, "mailapp_http_requests_total", **unmatched) == (
        value(before, "mailapp_http_requests_total", **unmatched) + 1
    )
    count = "mailapp_http_request_duration_seconds_count"
    assert value(after, count, endpoint="health.health") > value(
        before, count, endpoint="health.health"
    )
    assert value(after, "mailapp_reading_up", source="redis") == 1
    assert value(after, "mailapp_reading_up", source="database") == 1


def test_a_sent_campaign_counts_its_handovers_by_outcome_and_reply_class(app, client):
    def handed(samples, outcome, reply):
        labels = {"kind": "campaign", "outcome": outcome, "reply_class": reply}
        return value(samples, "mailapp_messages_handed_over_total", **labels)

    before = scrape(client)
    with pipeline_sink(app) as sink:
        project = make_project()
        lst = make_list(project, 0, emails=[f"m{i}@example.org" for i in range(6)])
        sink.rcpt_rules["m0@example.org"] = "550 5.1.1 user unknown"
        sink.rcpt_rules["m1@example.org"] = "451 4.3.0 try later"
        campaign = make_campaign(project, make_sender(project), make_template(project), [lst])
        launch(project, campaign)
        run_pipeline(campaign.id)
        received = len(sink.messages)
    after = scrape(client)
    assert received == 4
    assert handed(after, "sent", "2xx") - handed(before, "sent", "2xx") == received
    assert handed(after, "failed", "5xx") - handed(before, "failed", "5xx") == 1
    assert handed(after, "deferred", "4xx") - handed(before, "deferred", "4xx") >= 1
    latency = "mailapp_send_duration_seconds_count"
    assert value(after, latency, kind="campaign") - value(before, latency, kind="campaign") >= 6


def test_readings_of_running_campaigns_queues_throttles_and_heartbeats(app, client, redis_url):
    project = make_project()
    sender = make_sender(project)
    lst = make_list(project, 0, emails=[f"r{i}@example.org" for i in range(5)])
    campaign = make_campaign(project, sender, make_template(project), [lst])
    launch(project, campaign)
    for cid in pipeline.plan_dispatch().prepare:  # prepared, then handed out: `sending`
        pipeline.prepare_deliveries(cid)
    pipeline.plan_dispatch()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SENDING

    connection = redis.Redis.from_url(redis_url)
    broker = RedisBroker(url=redis_url)
    queued = dramatiq.actor(
        lambda: None, actor_name="metrics_probe", queue_name="probe", broker=broker
    )
    broker.enqueue(queued.message())
    broker.enqueue(queued.message())
    connection.sadd(QUEUES_KEY, "probe", "empty")
    beat(connection, "scheduler", "host:1")
    event_buffer.push(connection, [b"hit-1", b"hit-2", b"hit-3"])
    limiter = RateLimiter(connection, project, sender, ThrottlePolicy(rate=2))
    thrown = scrape(client)
    limiter.slow_down("google")

    samples = scrape(client)
    ids = {"project_id": str(project.id), "campaign_id": str(campaign.id)}
    assert value(samples, "mailapp_campaign_deliveries", **ids, status="queued") == 5
    assert value(samples, "mailapp_campaign_deliveries", **ids, status="sent") == 0
    assert samples["mailapp_campaign_bounce_rate"][tuple(sorted(ids.items()))] == 0
    assert value(samples, "mailapp_queue_messages", queue="probe") == 2
    assert value(samples, "mailapp_queue_messages", queue="empty") == 0
    assert 0 <= value(samples, "mailapp_queue_oldest_age_seconds", queue="probe") < 60
    assert value(samples, "mailapp_tracking_backlog") == 3
    assert value(samples, "mailapp_throttled_groups", group="google") == 1
    assert value(samples, "mailapp_throttles_total", group="google") == (
        value(thrown, "mailapp_throttles_total", group="google") + 1
    )
    assert 0 <= value(samples, "mailapp_heartbeat_age_seconds", process="scheduler") < 5
    broker.close()


def test_metrics_name_no_address(app, client):
    with pipeline_sink(app):
        project = make_project()
        lst = make_list(project, 3)
        campaign = make_campaign(project, make_sender(project), make_template(project), [lst])
        launch(project, campaign)
        run_pipeline(campaign.id)
    body = client.get("/metrics", headers=BEARER).get_data(as_text=True)
    assert "@" not in body
    assert TOKEN not in body
