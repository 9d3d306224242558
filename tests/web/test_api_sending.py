"""Transactional and campaign API, sending for real through the stub broker's worker."""

from __future__ import annotations

import email

import pytest
import sqlalchemy as sa
from dramatiq import Worker

from mailapp.access.apikeys import create_api_key
from mailapp.audience.suppression import suppress
from mailapp.delivery.batches import transport_pool
from mailapp.extensions import db
from mailapp.models import AuditLog, Campaign, Message, SuppressionReason
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.smtp_sink import SmtpSink
from workers.actors.sending import send_message
from workers.broker import broker


@pytest.fixture
def sink(app):
    sink = SmtpSink().start()
    app.config["SMTP_URL"] = sink.url
    yield sink
    sink.stop()
    transport_pool().close()


@pytest.fixture
def worker(app):
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def project(app):
    return make_project("acme")


def auth(project, scopes=("campaigns.send", "campaigns.write", "analytics.read")):
    _, key = create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def drain(worker):
    broker.join(send_message.queue_name)
    worker.join()


def test_transactional_message_is_sent_once_per_idempotency_key(client, project, sink, worker):
    make_sender(project)
    template = make_template(project, html="<p>Your code is {{ data.code }}.</p>", subject="Code")
    headers = {**auth(project), "Idempotency-Key": "order-42"}
    body = {"to": "Ada@Example.org", "template_id": template.id, "data": {"code": "1234"}}
    first = client.post("/api/v1/messages", json=body, headers=headers)
    assert first.status_code == 201
    drain(worker)
    again = client.post("/api/v1/messages", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    drain(worker)
    assert len(sink.messages) == 1
    message = email.message_from_bytes(sink.messages[0].data)
    assert message["Subject"] == "Code"
    assert "List-Unsubscribe" not in message
    assert "1234" in sink.messages[0].data.decode()
    assert sink.messages[0].mail_from.startswith("bounces+")
    shown = client.get(f"/api/v1/messages/{first.json['id']}", headers=auth(project))
    assert shown.json["status"] == "sent"
    assert shown.json["message_id"] == f"<message.{first.json['id']}@example.com>"


def test_an_idempotency_key_reused_for_another_request_is_refused(client, project, sink, worker):
    make_sender(project)
    template = make_template(project, html="<p>Your code is {{ data.code }}.</p>", subject="Code")
    headers = {**auth(project), "Idempotency-Key": "order-43"}
    body = {"to": "ada@example.org", "template_id": template.id, "data": {"code": "1234"}}
    first = client.post("/api/v1/messages", json=body, headers=headers)
    assert first.status_code == 201
    for other in ({**body, "to": "bob@example.org"}, {**body, "data": {"code": "9999"}}):
        refused = client.post("/api/v1/messages", json=other, headers=headers)
        assert refused.status_code == 422
        assert refused.json["error"]["code"] == "idempotency_key_reused"
        assert "'order-43'" in refused.json["error"]["message"]
    # The same request again (the address in another case) is still a replay.
    again = client.post("/api/v1/messages", json={**body, "to": "Ada@Example.org"}, headers=headers)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    drain(worker)
    assert [m.rcpt_tos for m in sink.messages] == [["ada@example.org"]]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1


def test_transactional_respects_bounces_but_not_marketing_unsubscribes(
    client, project, sink, worker
):
    make_sender(project)
    suppress(project.id, "gone@example.org", SuppressionReason.HARD_BOUNCE, actor=TEST_ACTOR)
    suppress(project.id, "left@example.org", SuppressionReason.UNSUBSCRIBE, actor=TEST_ACTOR)
    content = {"subject": "Receipt", "html": "<p>Thanks</p>"}
    gone = client.post(
        "/api/v1/messages",
        json={"to": "gone@example.org", "content": content},
        headers=auth(project),
    )
    left = client.post(
        "/api/v1/messages",
        json={"to": "left@example.org", "content": content},
        headers=auth(project),
    )
    drain(worker)
    assert gone.json["status"] == "suppressed"
    assert [m.rcpt_tos for m in sink.messages] == [["left@example.org"]]
    assert (
        client.get(f"/api/v1/messages/{left.json['id']}", headers=auth(project)).json["status"]
        == "sent"
    )


def test_message_requests_are_validated(client, project, sink):
    make_sender(project)
    headers = auth(project)
    no_to = client.post("/api/v1/messages", json={}, headers=headers)
    assert (no_to.status_code, no_to.json["error"]["fields"]) == (422, {"to": "required"})
    bad = client.post(
        "/api/v1/messages", json={"to": "nobody", "content": {"subject": "x"}}, headers=headers
    )
    assert bad.status_code == 422
    assert (
        client.post("/api/v1/messages", json={"to": "a@b.org"}, headers=headers).status_code == 422
    )
    other = make_project("other")
    assert client.get("/api/v1/messages/1", headers=auth(other)).status_code == 404
    denied = client.post(
        "/api/v1/messages", json={"to": "a@b.org"}, headers=auth(project, ["contacts.read"])
    )
    assert denied.status_code == 403


def test_campaign_api_create_launch_pause_resume_cancel_stats(client, project, sink):
    sender = make_sender(project)
    template = make_template(project)
    lst = make_list(project, 3)
    make_contact(project)
    headers = auth(project)
    created = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Spring",
            "sender_id": sender.id,
            "template_id": template.id,
            "lists": [lst.id],
        },
        headers=headers,
    )
    assert created.status_code == 201
    cid = created.json["id"]
    assert created.json["status"] == "draft"
    assert client.post(f"/api/v1/campaigns/{cid}/pause", headers=headers).status_code == 422
    assert client.post(f"/api/v1/campaigns/{cid}/launch", headers=headers).json["status"] == (
        "scheduled"
    )
    assert client.post(f"/api/v1/campaigns/{cid}/pause", headers=headers).json["status"] == "paused"
    assert client.post(f"/api/v1/campaigns/{cid}/resume", headers=headers).json["status"] == (
        "scheduled"
    )
    cancelled = client.post(f"/api/v1/campaigns/{cid}/cancel", headers=headers)
    assert cancelled.json["status"] == "cancelled"
    stats = client.get(f"/api/v1/campaigns/{cid}/stats", headers=headers).json
    assert stats["deliveries"]["total"] == 0
    actions = db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.action.like("campaign.%")).order_by(AuditLog.id)
    ).all()
    assert actions == [
        "campaign.create",
        "campaign.launch",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]
    spec = client.get("/api/v1/openapi.json").json["paths"]
    assert "/api/v1/campaigns/{campaign_id}/launch" in spec
    assert "/api/v1/messages" in spec


def test_campaign_guardrails_given_at_creation_are_checked(client, project):
    sender, template, lst = make_sender(project), make_template(project), make_list(project, 1)
    base = {"name": "Spring", "sender_id": sender.id, "template_id": template.id}
    base["lists"] = [lst.id]
    for guardrails, words in (
        ({"max_bounce_rate": 5}, "guardrails.max_bounce_rate: a fraction from 0.0001 to 0.5"),
        ({"canary_share": True}, "guardrails.canary_share"),
        ({"min_sample": 2.5}, "guardrails.min_sample: a whole number"),
        ({"pause_at": 0.1}, "guardrails.pause_at: not a guardrail"),
        ("strict", "guardrails: an object"),
    ):
        r = client.post(
            "/api/v1/campaigns", json={**base, "guardrails": guardrails}, headers=auth(project)
        )
        assert r.status_code == 422, guardrails
        assert words in r.json["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0
    good = {"max_bounce_rate": 0.05, "canary_share": 0.1, "min_sample": 50}
    r = client.post("/api/v1/campaigns", json={**base, "guardrails": good}, headers=auth(project))
    assert r.status_code == 201
    assert db.session.get(Campaign, r.json["id"]).guardrails == good
