"""Inbound ESP webhooks through the API: the receiving URL in every answer, the provider's key
write-only (set, replaced, never read back), changes audited by field name, per project."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pytest
import sqlalchemy as sa

from mailapp.access.permissions import Permission
from mailapp.extensions import db
from mailapp.models import AuditLog, InboundWebhook
from tests.factories import make_project
from tests.support.api import ApiCaller

OLD_KEY = "key-" + "a" * 32
NEW_KEY = "key-" + "b" * 32


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def api(client, project):
    """An ApiCaller with the given scopes (webhooks.manage by default) of a project."""

    def caller(scopes=(Permission.WEBHOOKS_MANAGE.value,), of=project):
        return ApiCaller(client, of, scopes)

    return caller


def mailgun_post(client, url: str, key: str):
    """A Mailgun event signed with `key`, posted to the endpoint's URL."""
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    event = {
        "id": secrets.token_urlsafe(16),
        "event": "delivered",
        "timestamp": time.time(),
        "recipient": "someone@example.org",
        "message": {"headers": {"message-id": "m1@mail.example.com"}},
    }
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }
    return client.post(url.removeprefix("http://mail.test"), json=body)


def actions(prefix: str) -> list[AuditLog]:
    return db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action.like(f"{prefix}%")).order_by(AuditLog.id)
    ).all()


def test_an_endpoint_is_set_up_changed_and_removed_and_its_key_never_read_back(api, client):
    key = api()
    created = key.post("/inbound-webhooks", json={"provider": "mailgun", "secret": OLD_KEY})
    assert created.status_code == 201
    hook = created.json
    assert set(hook) == {"id", "provider", "active", "url", "has_secret", "created_at"}
    assert (hook["provider"], hook["active"], hook["has_secret"]) == ("mailgun", True, True)
    stored = db.session.get(InboundWebhook, hook["id"])
    assert hook["url"] == f"http://mail.test/webhooks/mailgun/{stored.token}"
    assert mailgun_post(client, hook["url"], OLD_KEY).status_code == 200

    changed = key.patch(f"/inbound-webhooks/{hook['id']}", json={"secret": NEW_KEY})
    assert changed.status_code == 200
    assert changed.json["url"] == hook["url"], "the URL configured at the provider stays"
    assert mailgun_post(client, hook["url"], OLD_KEY).status_code == 403, "a bad signature"
    assert mailgun_post(client, hook["url"], NEW_KEY).status_code == 200
    # Kept when a change does not send it.
    assert key.patch(f"/inbound-webhooks/{hook['id']}", json={"active": True}).status_code == 200
    db.session.expire_all()
    assert db.session.get(InboundWebhook, hook["id"]).secret == NEW_KEY

    paused = key.patch(f"/inbound-webhooks/{hook['id']}", json={"active": False}).json
    assert paused["active"] is False
    assert mailgun_post(client, hook["url"], NEW_KEY).status_code == 404

    answers = [
        created,
        changed,
        key.get("/inbound-webhooks"),
        key.get(f"/inbound-webhooks/{hook['id']}"),
    ]
    for answer in answers:
        assert OLD_KEY not in answer.text
        assert NEW_KEY not in answer.text
        assert "secret" not in answer.text.replace("has_secret", "")
    assert [w["id"] for w in key.get("/inbound-webhooks").json] == [hook["id"]]

    entries = [e for e in actions("inbound_webhook.") if e.action != "inbound_webhook.receive"]
    # A change that changes nothing (active was already true) leaves no entry.
    assert [e.action for e in entries] == [
        "inbound_webhook.create",
        "inbound_webhook.update",
        "inbound_webhook.update",
    ]
    assert entries[1].context == {"changed": ["secret"]}
    assert entries[2].context == {"changed": ["active"]}
    assert all(NEW_KEY not in str(e.context) and OLD_KEY not in str(e.context) for e in entries)

    assert key.delete(f"/inbound-webhooks/{hook['id']}").status_code == 204
    assert key.get(f"/inbound-webhooks/{hook['id']}").status_code == 404
    assert actions("inbound_webhook.delete")[0].object_id == str(hook["id"])


def test_keys_are_required_where_the_provider_signs_and_fields_are_checked(api):
    key = api()
    unsigned = key.post("/inbound-webhooks", json={"provider": "mailgun"})
    assert (unsigned.status_code, unsigned.json["error"]["message"]) == (
        422,
        "mailgun webhooks need the provider's key or secret",
    )
    ses = key.post("/inbound-webhooks", json={"provider": "ses"})
    assert ses.status_code == 201
    assert ses.json["has_secret"] is False
    to_postmark = key.patch(f"/inbound-webhooks/{ses.json['id']}", json={"provider": "postmark"})
    assert to_postmark.status_code == 422
    assert "postmark webhooks need" in to_postmark.json["error"]["message"]
    assert key.get(f"/inbound-webhooks/{ses.json['id']}").json["provider"] == "ses"
    moved = key.patch(
        f"/inbound-webhooks/{ses.json['id']}", json={"provider": "postmark", "secret": "pw-123"}
    )
    assert (moved.json["provider"], moved.json["has_secret"]) == ("postmark", True)
    assert "/webhooks/postmark/" in moved.json["url"]
    cleared = key.patch(f"/inbound-webhooks/{ses.json['id']}", json={"secret": None})
    assert cleared.status_code == 422

    wrong = key.post(
        "/inbound-webhooks", json={"provider": "sparkpost", "secret": "", "token": "mine"}
    )
    assert wrong.status_code == 422
    assert wrong.json["error"]["fields"] == {
        "provider": "one of ses, sendgrid, mailgun, postmark",
        "secret": "required",
        "token": "not a field of this request",
    }
    assert key.post("/inbound-webhooks", json={}).json["error"]["fields"] == {
        "provider": "required"
    }
    assert key.patch(f"/inbound-webhooks/{ses.json['id']}", json={"active": "no"}).json["error"][
        "fields"
    ] == {"active": "true or false"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundWebhook)) == 1


def test_endpoints_are_per_project_and_need_the_webhooks_scope(api, client):
    theirs = api(of=make_project("other"))
    their_id = theirs.post("/inbound-webhooks", json={"provider": "ses"}).json["id"]
    key = api()
    assert key.get("/inbound-webhooks").json == []
    for method, body in [("get", None), ("patch", {"active": False}), ("delete", None)]:
        path = f"/inbound-webhooks/{their_id}"
        response = getattr(key, method)(path, json=body) if body else getattr(key, method)(path)
        assert (response.status_code, response.json["error"]["code"]) == (404, "not_found")
    assert theirs.get(f"/inbound-webhooks/{their_id}").json["active"] is True

    marketer = api([Permission.CONTACTS_WRITE.value, Permission.TEMPLATES_WRITE.value])
    assert marketer.get("/inbound-webhooks").status_code == 403
    assert marketer.post("/inbound-webhooks", json={"provider": "ses"}).status_code == 403
    assert marketer.delete(f"/inbound-webhooks/{their_id}").status_code == 403
    assert len(actions("api.forbidden")) == 3

    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, method in [
        ("/api/v1/inbound-webhooks", "get"),
        ("/api/v1/inbound-webhooks", "post"),
        ("/api/v1/inbound-webhooks/{webhook_id}", "get"),
        ("/api/v1/inbound-webhooks/{webhook_id}", "patch"),
        ("/api/v1/inbound-webhooks/{webhook_id}", "delete"),
    ]:
        assert paths[path][method]["x-required-scope"] == "webhooks.manage", (path, method)
    create = paths["/api/v1/inbound-webhooks"]["post"]
    request_schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert request_schema["properties"]["secret"]["writeOnly"] is True
    answer = create["responses"]["201"]["content"]["application/json"]["schema"]
    assert "secret" not in answer["properties"]
