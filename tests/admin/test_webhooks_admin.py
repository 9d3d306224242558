"""Back-office pages for webhooks and returned mail: scoped, permissioned, secrets write-only."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.esp.intake import create_inbound_webhook
from mailapp.integrations.webhooks import create_endpoint, publish_event
from mailapp.models import EspProvider, InboundMessage, InboundWebhook, WebhookAttempt
from tests.admin.conftest import csrf_token, login
from tests.factories import TEST_ACTOR, make_project, make_user


def test_inbound_webhook_page_shows_the_url_never_the_secret(app, client):
    project = make_project()
    user = make_user(project, "admin")
    hook = create_inbound_webhook(
        project.id, EspProvider.MAILGUN, secret="mailgun-signing-key-123", actor=TEST_ACTOR
    )
    login(client, user)
    page = client.get("/admin/inboundwebhook/")
    assert page.status_code == 200
    assert f"http://mail.test/webhooks/mailgun/{hook.token}".encode() in page.data
    edit = client.get(f"/admin/inboundwebhook/edit/?id={hook.id}")
    assert b"mailgun-signing-key-123" not in edit.data
    details = client.get(f"/admin/inboundwebhook/details/?id={hook.id}")
    assert b"mailgun-signing-key-123" not in details.data


def test_create_inbound_webhook_through_the_form(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    token = csrf_token(client)
    response = client.post(
        "/admin/inboundwebhook/new/",
        data={
            "csrf_token": token,
            "provider": "postmark",
            "active": "y",
            "secret": "pm-secret-xyz",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    hook = db.session.scalar(sa.select(InboundWebhook))
    assert (hook.provider, hook.secret, hook.project_id) == (
        EspProvider.POSTMARK,
        "pm-secret-xyz",
        project.id,
    )
    assert len(hook.token) >= 32


def test_marketer_may_not_manage_webhooks(app, client):
    project = make_project()
    login(client, make_user(project, "marketer"))
    assert client.get("/admin/inboundwebhook/").status_code == 403
    assert client.get("/admin/webhookattempt/").status_code == 403


def test_history_lists_attempts_and_retries_them(app, client):
    project = make_project()
    other = make_project()
    create_endpoint(
        project.id, "https://hooks.example.com/in", allow_private=False, actor=TEST_ACTOR
    )
    create_endpoint(other.id, "https://other.example.com/in", actor=TEST_ACTOR)
    publish_event(project.id, "bounce_hard", {"email": "a@example.org"})
    publish_event(other.id, "bounce_hard", {"email": "b@example.org"})
    db.session.execute(sa.update(WebhookAttempt).values(status="failed", error="HTTP 500"))
    db.session.commit()
    login(client, make_user(project, "admin"))
    page = client.get("/admin/webhookattempt/")
    assert b"https://hooks.example.com/in" in page.data
    assert b"other.example.com" not in page.data
    mine = db.session.scalar(
        sa.select(WebhookAttempt.id).where(WebhookAttempt.project_id == project.id)
    )
    theirs = db.session.scalar(
        sa.select(WebhookAttempt.id).where(WebhookAttempt.project_id == other.id)
    )
    client.post(
        "/admin/webhookattempt/action/",
        data={"csrf_token": csrf_token(client), "action": "retry", "rowid": [mine, theirs]},
    )
    db.session.expire_all()
    assert db.session.get(WebhookAttempt, mine).status == "pending"
    assert db.session.get(WebhookAttempt, theirs).status == "failed"


def test_only_an_operator_may_allow_private_targets(app, client):
    project = make_project()
    admin = make_user(project, "admin")
    login(client, admin)
    data = {
        "csrf_token": csrf_token(client),
        "url": "http://127.0.0.1:9/hook",
        "active": "y",
        "allow_private": "y",
        "secret": "s" * 20,
    }
    client.post("/admin/webhookendpoint/new/", data=data)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookAttempt)) == 0
    from mailapp.models import WebhookEndpoint

    assert db.session.scalar(sa.select(WebhookEndpoint)) is None
    admin.is_superuser = True
    db.session.commit()
    client.post("/admin/webhookendpoint/new/", data={**data, "csrf_token": csrf_token(client)})
    assert db.session.scalar(sa.select(WebhookEndpoint.allow_private)) is True


def test_returned_mail_list_and_raw_view(app, client):
    project = make_project()
    other = make_project()
    for owner in (project, other):
        db.session.add(
            InboundMessage(
                project_id=owner.id,
                source="pipe",
                raw=f"Subject: bounce for {owner.slug}\r\n\r\n<script>x</script>".encode(),
                classification="bounce_hard",
                status_code="5.1.1",
                recipients=f"gone@{owner.slug}.example",
            )
        )
    db.session.commit()
    login(client, make_user(project, "support"))
    page = client.get("/admin/inboundmessage/")
    assert page.status_code == 200
    assert f"gone@{project.slug}.example".encode() in page.data
    assert f"gone@{other.slug}.example".encode() not in page.data
    mine, theirs = db.session.scalars(sa.select(InboundMessage.id).order_by(InboundMessage.id))
    raw = client.get(f"/admin/inboundmessage/raw/?id={mine}")
    assert raw.status_code == 200
    assert raw.mimetype == "text/plain"
    assert b"<script>x</script>" in raw.data
    assert client.get(f"/admin/inboundmessage/raw/?id={theirs}").status_code == 404


def test_esp_events_show_the_raw_payload(app, client):
    from mailapp.models import ProviderEvent
    from mailapp.models.base import utcnow

    project = make_project()
    event = ProviderEvent(
        project_id=project.id,
        provider=EspProvider.SENDGRID,
        provider_event_id="sg_event_id_bounce_1",
        received_at=utcnow(),
        raw={"event": "bounce", "reason": "550 5.1.1 no such user"},
        normalized_type="bounce_hard",
    )
    db.session.add(event)
    db.session.commit()
    login(client, make_user(project, "admin"))
    assert b"sg_event_id_bounce_1" in client.get("/admin/providerevent/").data
    details = client.get(f"/admin/providerevent/details/?id={event.id}")
    assert b"550 5.1.1 no such user" in details.data
