"""API authentication: Bearer keys, scopes from the permission table, JSON errors, OpenAPI."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g, jsonify

from mailapp.access.apikeys import create_api_key, revoke_api_key
from mailapp.access.permissions import Permission
from mailapp.audience.suppression import suppress
from mailapp.extensions import db
from mailapp.models import ApiKey, AuditLog, Suppression, SuppressionReason
from mailapp.models.base import utcnow
from mailapp.web.api import document, require
from tests.factories import TEST_ACTOR, make_project


@pytest.fixture
def api(app):
    """A documented, mutating probe endpoint registered like any API module's."""

    @document(
        "Suppress an address (test probe)",
        request={"type": "object", "properties": {"email": {"type": "string"}}},
        responses={201: {"type": "object"}},
        tags=["test"],
    )
    @require(Permission.CONTACTS_WRITE)
    def probe(number: int):
        entry = suppress(g.project.id, "probe@example.org", SuppressionReason.MANUAL, actor=g.actor)
        return jsonify({"id": entry.id, "project": g.project.slug, "number": number}), 201

    app.add_url_rule("/api/v1/probe/<int:number>", "api.probe", probe, methods=["POST"])
    return app


@pytest.fixture
def project(api):
    return make_project("acme")


def key_for(project, scopes=("contacts.write",), **kwargs):
    return create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR, **kwargs)


def suppressions() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Suppression))


def refusals() -> list[AuditLog]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action.like("api.%")).order_by(AuditLog.id)
    ).all()


def test_a_valid_key_acts_in_its_project_as_itself(client, project):
    api_key, key = key_for(project)
    response = client.post(
        "/api/v1/probe/7",
        json={"email": "probe@example.org"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201
    assert response.json["project"] == "acme"
    assert response.json["number"] == 7
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "suppression.add"))
    assert entry.actor_api_key_id == api_key.id
    assert entry.project_id == project.id
    db.session.refresh(api_key)
    assert api_key.last_used_at is not None


def test_csrf_does_not_apply_to_bearer_requests(client, project):
    _, key = key_for(project)
    assert (
        client.post(
            "/api/v1/probe/1", json={}, headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "send an API key"),
        ("Basic dXNlcjpwYXNz", "send an API key"),
        ("Bearer mk_not-a-real-key", "not valid"),
    ],
)
def test_missing_or_wrong_keys_are_401(client, project, header, message):
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/v1/probe/1", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert message in response.json["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert suppressions() == 0


def test_revoked_and_expired_keys_are_401_and_audited(client, project):
    revoked, revoked_key = key_for(project)
    revoke_api_key(project.id, revoked.id, actor=TEST_ACTOR)
    expired, expired_key = key_for(project, expires_in_days=1)
    expired.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for key, reason in ((revoked_key, "revoked"), (expired_key, "expired")):
        response = client.post("/api/v1/probe/1", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
        assert reason in response.json["error"]["message"]
        entry = refusals()[-1]
        assert entry.action == "api.auth_refused"
        assert entry.context["reason"] == reason
        assert entry.project_id == project.id
    assert suppressions() == 0


def test_a_key_without_the_scope_is_403_and_audited(client, project):
    api_key, key = key_for(project, scopes=("contacts.read",))
    response = client.post("/api/v1/probe/1", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    entry = refusals()[-1]
    assert entry.action == "api.forbidden"
    assert entry.actor_api_key_id == api_key.id
    assert entry.context["permission"] == "contacts.write"
    assert suppressions() == 0


def test_unknown_api_paths_and_methods_answer_json(client, project):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    wrong_method = client.get("/api/v1/probe/1")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json
    assert client.get("/nothing-here").content_type.startswith("text/html")


def test_openapi_document_lists_documented_endpoints_with_their_scope(client, project):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    # A client joins the server URL and a path: that must be the route itself, once.
    assert spec["servers"] == [{"url": "http://mail.test"}]
    assert "/api/v1/contacts" in spec["paths"]
    operation = spec["paths"]["/api/v1/probe/{number}"]["post"]
    assert operation["summary"] == "Suppress an address (test probe)"
    assert operation["x-required-scope"] == "contacts.write"
    assert operation["security"] == [{"apiKey": []}]
    assert operation["parameters"][0] == {
        "name": "number",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert set(operation["responses"]) == {"201", "401", "403", "422"}
    assert "requestBody" in operation
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_keys_are_stored_only_as_hashes(project):
    api_key, key = key_for(project)
    stored = db.session.scalar(sa.select(ApiKey).where(ApiKey.id == api_key.id))
    assert key not in (stored.key_hash, stored.prefix)
    assert key.startswith(stored.prefix)
    assert len(stored.key_hash) == 64


def test_every_api_route_is_declared_so_its_requests_are_checked(app):
    """A route without `document` would go unchecked and undocumented; one without `require`
    would be open to anyone."""
    undeclared = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in ("api.openapi", "api.probe"):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "openapi", None) is None or getattr(view, "api_permission", None) is None:
            undeclared.append(rule.rule)
    assert undeclared == []
