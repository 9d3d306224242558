"""Outbound webhooks API: CRUD, the secret shown once, rotation, validation, SSRF, tenancy."""

from __future__ import annotations

import json

import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.integrations.webhooks import create_endpoint, publish_event
from mailapp.models import AttemptStatus, AuditLog, WebhookAttempt, WebhookEndpoint
from tests.factories import TEST_ACTOR, make_project

PUBLIC = "https://93.184.216.34/hooks/mail"


def bearer(project, *scopes):
    _, key = create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))


def test_endpoint_lifecycle_shows_the_secret_once(app, client):
    project = make_project()
    headers = bearer(project, "webhooks.manage")
    created = client.post(
        "/api/v1/webhooks",
        json={"url": PUBLIC, "event_types": ["open", "delivered"]},
        headers=headers,
    )
    assert created.status_code == 201
    shown = created.get_json()
    secret = shown["secret"]
    assert secret.startswith("whsec_")
    assert shown["event_types"] == ["delivered", "open"]
    assert shown["active"] is True
    assert shown["allow_private"] is False
    endpoint = db.session.get(WebhookEndpoint, shown["id"])
    assert endpoint.secret == secret
    assert endpoint.project_id == project.id

    one = client.get(f"/api/v1/webhooks/{endpoint.id}", headers=headers)
    listed = client.get("/api/v1/webhooks", headers=headers)
    changed = client.patch(
        f"/api/v1/webhooks/{endpoint.id}",
        json={"active": False, "event_types": [], "url": "https://93.184.216.34/v2"},
        headers=headers,
    )
    assert changed.status_code == 200
    assert changed.get_json()["active"] is False
    assert changed.get_json()["event_types"] == []
    for answer in (one, listed, changed):
        assert secret not in answer.get_data(as_text=True)
        assert "secret" not in answer.get_data(as_text=True)
    assert [e["id"] for e in listed.get_json()] == [endpoint.id]
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).url == "https://93.184.216.34/v2"

    rotated = client.post(f"/api/v1/webhooks/{endpoint.id}/secret", headers=headers)
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["secret"]
    assert new_secret != secret
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).secret == new_secret

    assert client.delete(f"/api/v1/webhooks/{endpoint.id}", headers=headers).status_code == 204
    assert db.session.get(WebhookEndpoint, endpoint.id) is None
    assert client.get(f"/api/v1/webhooks/{endpoint.id}", headers=headers).status_code == 404
    assert audit_actions()[-4:] == [
        "webhook_endpoint.create",
        "webhook_endpoint.update",
        "webhook_endpoint.rotate_secret",
        "webhook_endpoint.delete",
    ]
    entries = db.session.scalars(sa.select(AuditLog)).all()
    assert all(secret not in json.dumps(e.context or {}) for e in entries)
    assert all(new_secret not in json.dumps(e.context or {}) for e in entries)


def test_event_types_and_urls_are_checked_field_by_field(app, client):
    project = make_project()
    headers = bearer(project, "webhooks.manage")
    bad_type = client.post(
        "/api/v1/webhooks", json={"url": PUBLIC, "event_types": ["open", "opened"]}, headers=headers
    )
    assert bad_type.status_code == 422
    assert set(bad_type.get_json()["error"]["fields"]) == {"event_types.1"}
    wrong = ("ftp://93.184.216.34/x", "https://user:pw@93.184.216.34/x", "not a url")
    for url in (*wrong, "https://93.184.216.34:port/x"):
        refused = client.post("/api/v1/webhooks", json={"url": url}, headers=headers)
        assert refused.status_code == 422, url
        assert set(refused.get_json()["error"]["fields"]) == {"url"}
    unknown = client.post("/api/v1/webhooks", json={"url": PUBLIC, "secret": "x"}, headers=headers)
    assert unknown.get_json()["error"]["fields"] == {"secret": "not a field of this request"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_private_targets_are_refused_and_only_an_operator_may_allow_them(app, client):
    project = make_project()
    headers = bearer(project, "webhooks.manage")
    private = ("http://127.0.0.1:8080/in", "http://10.1.2.3/in", "http://localhost/in")
    for url in (*private, "http://[::1]/in", "http://2130706433/in", "http://169.254.169.254/"):
        refused = client.post("/api/v1/webhooks", json={"url": url}, headers=headers)
        assert refused.status_code == 422, url
        assert "private targets are refused" in refused.get_json()["error"]["fields"]["url"]
    allowed = client.post(
        "/api/v1/webhooks",
        json={"url": "http://10.1.2.3/in", "allow_private": True},
        headers=headers,
    )
    assert allowed.status_code == 422
    assert "operator" in allowed.get_json()["error"]["fields"]["allow_private"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0

    public = client.post("/api/v1/webhooks", json={"url": PUBLIC}, headers=headers).get_json()
    to_private = client.patch(
        f"/api/v1/webhooks/{public['id']}", json={"url": "http://192.168.1.9/"}, headers=headers
    )
    assert to_private.status_code == 422
    assert set(to_private.get_json()["error"]["fields"]) == {"url"}
    opened = client.patch(
        f"/api/v1/webhooks/{public['id']}", json={"allow_private": True}, headers=headers
    )
    assert opened.status_code == 422
    assert set(opened.get_json()["error"]["fields"]) == {"allow_private"}
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, public["id"]).allow_private is False

    # An operator allowed a private target; the key may still change the rest, or close it.
    internal, _ = create_endpoint(
        project.id, "http://10.9.9.9/in", allow_private=True, actor=TEST_ACTOR
    )
    kept = client.patch(
        f"/api/v1/webhooks/{internal.id}", json={"event_types": ["click"]}, headers=headers
    )
    assert kept.status_code == 200
    assert kept.get_json()["allow_private"] is True
    closed = client.patch(
        f"/api/v1/webhooks/{internal.id}", json={"allow_private": False}, headers=headers
    )
    assert closed.status_code == 422  # 10.9.9.9 is private: closing needs a public URL too
    # The allowance covered 10.9.9.9 only: a key moving the endpoint cannot keep it.
    for body in ({"url": "http://169.254.169.254/"}, {"url": PUBLIC, "allow_private": True}):
        refused = client.patch(f"/api/v1/webhooks/{internal.id}", json=body, headers=headers)
        assert refused.status_code == 422, body
    moved = client.patch(f"/api/v1/webhooks/{internal.id}", json={"url": PUBLIC}, headers=headers)
    assert moved.status_code == 200
    assert moved.get_json()["allow_private"] is False
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, internal.id).url == PUBLIC


def test_attempts_are_paged_newest_first_and_retried(app, client):
    project, other = make_project(), make_project()
    headers = bearer(project, "webhooks.manage")
    endpoint = client.post("/api/v1/webhooks", json={"url": PUBLIC}, headers=headers).get_json()
    for i in range(5):
        publish_event(project.id, "delivered", {"n": i})
    db.session.commit()
    ids = sorted(db.session.scalars(sa.select(WebhookAttempt.id)), reverse=True)
    first = client.get(f"/api/v1/webhooks/{endpoint['id']}/attempts?limit=3", headers=headers)
    assert first.status_code == 200
    page = first.get_json()
    assert [a["id"] for a in page["data"]] == ids[:3]
    assert page["data"][0]["status"] == "pending"
    assert page["data"][0]["next_attempt_at"] is not None
    assert page["next_cursor"] == ids[2]
    rest = client.get(
        f"/api/v1/webhooks/{endpoint['id']}/attempts?limit=3&after={page['next_cursor']}",
        headers=headers,
    ).get_json()
    assert [a["id"] for a in rest["data"]] == ids[3:]
    assert rest["next_cursor"] is None

    db.session.execute(
        sa.update(WebhookAttempt).values(
            status=AttemptStatus.FAILED, next_attempt_at=None, error="HTTP 500", response_code=500
        )
    )
    db.session.commit()
    failed = client.get(f"/api/v1/webhooks/{endpoint['id']}/attempts", headers=headers).get_json()
    assert failed["data"][0]["response_code"] == 500
    assert failed["data"][0]["next_attempt_at"] is None
    _foreign, _ = create_endpoint(other.id, PUBLIC, actor=TEST_ACTOR)
    publish_event(other.id, "delivered", {})
    db.session.commit()
    foreign_attempt = db.session.scalar(
        sa.select(WebhookAttempt.id).where(WebhookAttempt.project_id == other.id)
    )
    retried = client.post(
        f"/api/v1/webhooks/{endpoint['id']}/attempts/retry",
        json={"attempt_ids": [ids[0], ids[1], foreign_attempt]},
        headers=headers,
    )
    assert retried.status_code == 200
    assert retried.get_json() == {"retried": 2}
    db.session.expire_all()
    statuses = dict(db.session.execute(sa.select(WebhookAttempt.id, WebhookAttempt.status)).all())
    assert statuses[ids[0]] == statuses[ids[1]] == AttemptStatus.PENDING
    assert statuses[ids[2]] == AttemptStatus.FAILED
    assert statuses[foreign_attempt] == AttemptStatus.PENDING  # untouched: never failed
    assert "webhook_attempt.retry" in audit_actions()
    empty = client.post(
        f"/api/v1/webhooks/{endpoint['id']}/attempts/retry",
        json={"attempt_ids": []},
        headers=headers,
    )
    assert empty.status_code == 422

    gone = client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=headers)
    assert gone.status_code == 204
    left = db.session.scalars(sa.select(WebhookAttempt.id)).all()
    assert left == [foreign_attempt]


def test_another_projects_endpoint_is_404_and_scopes_are_enforced(app, client):
    project, other = make_project(), make_project()
    foreign, _ = create_endpoint(other.id, PUBLIC, actor=TEST_ACTOR)
    headers = bearer(project, "webhooks.manage")
    base = f"/api/v1/webhooks/{foreign.id}"
    assert client.get(base, headers=headers).status_code == 404
    assert client.patch(base, json={"active": False}, headers=headers).status_code == 404
    assert client.delete(base, headers=headers).status_code == 404
    assert client.post(f"{base}/secret", headers=headers).status_code == 404
    assert client.get(f"{base}/attempts", headers=headers).status_code == 404
    retry = client.post(f"{base}/attempts/retry", json={"attempt_ids": [1]}, headers=headers)
    assert retry.status_code == 404
    assert client.get("/api/v1/webhooks", headers=headers).get_json() == []
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, foreign.id).active is True

    assert client.get("/api/v1/webhooks").status_code == 401
    reader = bearer(project, "contacts.read", "campaigns.write")
    assert client.get("/api/v1/webhooks", headers=reader).status_code == 403
    refused = client.post("/api/v1/webhooks", json={"url": PUBLIC}, headers=reader)
    assert refused.status_code == 403
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.project_id == project.id)
        )
        == 0
    )


def test_openapi_lists_the_webhook_paths_with_their_scope(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    expected = {
        "/api/v1/webhooks": {"get", "post"},
        "/api/v1/webhooks/{endpoint_id}": {"get", "patch", "delete"},
        "/api/v1/webhooks/{endpoint_id}/secret": {"post"},
        "/api/v1/webhooks/{endpoint_id}/attempts": {"get"},
        "/api/v1/webhooks/{endpoint_id}/attempts/retry": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            assert paths[path][method]["x-required-scope"] == "webhooks.manage"
    created = paths["/api/v1/webhooks"]["post"]["responses"]["201"]
    assert "secret" in created["content"]["application/json"]["schema"]["required"]
    shown = paths["/api/v1/webhooks/{endpoint_id}"]["get"]["responses"]["200"]
    assert "secret" not in shown["content"]["application/json"]["schema"]["properties"]
