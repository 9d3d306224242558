"""/metrics with real processes: a campaign sent by two Dramatiq worker processes (the scheduler
dispatching), scraped from a real gunicorn with two workers, all sharing one
PROMETHEUS_MULTIPROC_DIR: the counters add up every process and match what the sink got."""

from __future__ import annotations

import http.client
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Project
from tests.e2e.conftest import Process, running_stack
from tests.factories import make_campaign, make_list, make_project, make_sender, make_template
from tests.support.pipeline import launch
from tests.support.servers import free_port, wait_for_port
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.e2e

TOKEN = "e2e-metrics-token-" + "k" * 20
CONTACTS = 60


def get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def totals(text: str) -> dict[str, dict[tuple, float]]:
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def test_scraped_counters_match_what_the_smtp_sink_received(
    postgres_server_url, postgres_template, tmp_path_factory, tmp_path
):
    folder = tmp_path / "metrics"
    sink = SmtpSink().start()
    with running_stack(
        postgres_server_url,
        postgres_template,
        tmp_path_factory,
        PROMETHEUS_MULTIPROC_DIR=str(folder),
        METRICS_TOKEN=TOKEN,
    ) as stack:
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "2", "--no-control-socket"]
        web = Process("web", command, stack.worker.env, stack.logs / "web.log")
        web.start()
        try:
            with stack.app.app_context():
                project = make_project()
                sender = make_sender(project, transport_url=sink.url)
                lst = make_list(project, CONTACTS)
                campaign = make_campaign(project, sender, make_template(project), [lst])
                launch(db.session.get(Project, project.id), campaign)
                campaign_id = campaign.id
            stack.wait_for(
                lambda: db.session.get(Campaign, campaign_id).status == CampaignStatus.SENT,
                timeout=30,
            )
            wait_for_port(port)
            assert get(port, "/metrics")[0] == 401
            for _ in range(10):  # spread over both gunicorn workers
                get(port, "/health")
            status, text = get(port, "/metrics", TOKEN)
        finally:
            web.stop()
    sink.stop()
    assert status == 200
    samples = totals(text)
    received = sum(len(m.rcpt_tos) for m in sink.messages)
    assert received == CONTACTS
    handed = samples["mailapp_messages_handed_over_total"]
    sent = (("kind", "campaign"), ("outcome", "sent"), ("reply_class", "2xx"))
    assert handed[sent] == received
    assert sum(handed.values()) == received  # nothing deferred, failed or lost
    batches = samples["dramatiq_messages_total"]
    assert batches[(("actor_name", "send_batch"), ("queue_name", "send"))] >= 1
    requests = samples["mailapp_http_requests_total"]
    health = [v for k, v in requests.items() if ("endpoint", "health.health") in k]
    assert sum(health) == 10
    # Each process kept its own file; the answer added them up.
    assert len({p.name for p in folder.glob("counter_*.db")}) >= 3
    assert "@" not in text
