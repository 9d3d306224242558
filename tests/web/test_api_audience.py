"""The audience REST API: contacts, lists, subscribe, segments, suppression, GDPR."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.access.permissions import Permission
from mailapp.extensions import db
from mailapp.models import ConsentRecord, MembershipStatus, Project, Suppression
from tests.factories import TEST_ACTOR, make_contact, make_project


@pytest.fixture
def api(app, client):
    """A client sending a key of the given scopes: api(scopes).get(...)."""
    with app.app_context():
        project = make_project()
        project_id = project.id

    class Api:
        def __init__(self, scopes):
            with app.app_context():
                _, key = create_api_key(project_id, "test", scopes, actor=TEST_ACTOR)
            self.headers = {"Authorization": f"Bearer {key}"}
            self.project_id = project_id

        def __getattr__(self, method):
            def call(path, **kwargs):
                return getattr(client, method)(f"/api/v1{path}", headers=self.headers, **kwargs)

            return call

    return Api


ALL = [p.value for p in Permission]


def test_contacts_crud_bulk_and_pagination(app, api) -> None:
    key = api(ALL)
    r = key.put("/contacts", json={"email": "A@Example.com", "attributes": {"plan": "pro"}})
    assert r.status_code == 201
    contact_id = r.json["id"]
    assert (r.json["email"], r.json["email_raw"]) == ("a@example.com", "A@Example.com")
    assert key.put("/contacts", json={"email": "A@example.com"}).status_code == 200
    assert key.put("/contacts", json={"email": "nope"}).status_code == 422
    assert key.get(f"/contacts/{contact_id}").json["attributes"] == {"plan": "pro"}
    assert key.get("/contacts/by-email/A@EXAMPLE.com").json["id"] == contact_id

    bulk = key.post(
        "/contacts/bulk",
        json={"contacts": [{"email": f"b{i}@example.com"} for i in range(5)] + [{"email": "x"}]},
    )
    assert (bulk.json["created"], len(bulk.json["errors"])) == (5, 1)
    too_many = key.post("/contacts/bulk", json={"contacts": [{"email": "a@b.co"}] * 1001})
    assert too_many.status_code == 422

    seen, cursor = [], 0
    while cursor is not None:
        page = key.get(f"/contacts?limit=4&after={cursor}").json
        seen += [c["email"] for c in page["data"]]
        cursor = page["next_cursor"]
    assert len(seen) == 6
    assert len(key.get("/contacts?email=b3").json["data"]) == 1
    bad_limit = key.get("/contacts?limit=x")
    assert bad_limit.status_code == 422
    assert bad_limit.json["error"]["fields"] == {"limit": "a whole number"}

    assert key.delete(f"/contacts/{contact_id}").status_code == 204
    assert key.get(f"/contacts/{contact_id}").status_code == 404


def test_scopes_are_enforced(app, api) -> None:
    reader = api([Permission.CONTACTS_READ.value])
    assert reader.get("/contacts").status_code == 200
    assert reader.put("/contacts", json={"email": "a@example.com"}).status_code == 403
    assert reader.post("/suppressions", json={"email": "a@example.com"}).status_code == 403


def test_lists_memberships_and_subscribe(app, api) -> None:
    key = api(ALL)
    news = key.post("/lists", json={"name": "News"}).json
    double = key.post("/lists", json={"name": "Double", "opt_in": "double"}).json
    ids = [key.put("/contacts", json={"email": f"l{i}@example.com"}).json["id"] for i in range(3)]
    assert key.post(f"/lists/{news['id']}/members", json={"contact_ids": ids}).json == {"added": 3}
    removed = key.post(f"/lists/{news['id']}/members/remove", json={"contact_ids": ids[:1]})
    assert removed.json == {"removed": 1}
    listing = {item["name"]: item for item in key.get("/lists").json}
    assert listing["News"]["members"] == {"confirmed": 2}

    r = key.post(
        f"/lists/{double['id']}/subscribe",
        json={"email": "new@example.com", "ip": "192.0.2.7", "form_version": "shop-3"},
    )
    assert r.status_code == 202
    assert r.json["status"] == MembershipStatus.UNCONFIRMED.value
    assert r.json["confirmation_sent"]
    with app.app_context():
        record = db.session.scalar(sa.select(ConsentRecord))
        assert (record.source, record.ip, record.form_version) == ("api", "192.0.2.7", "shop-3")
    assert key.post("/lists/999/subscribe", json={"email": "x@example.com"}).status_code == 404


def test_segments_and_suppression(app, api) -> None:
    key = api(ALL)
    with app.app_context():
        project = db.session.get(type(make_project()), key.project_id)
        for i, city in enumerate(["Berlin", "Berlin", "Oslo"]):
            make_contact(project, f"s{i}@example.com", attributes={"city": city})
    rule = {"field": "attributes.city", "op": "eq", "value": "Berlin"}
    count = key.post("/segments/count", json={"rule": rule}).json
    assert count == {"count": 2, "description": "contacts whose city is Berlin"}
    bad = key.post("/segments", json={"name": "Bad", "rule": {"field": "x", "op": "eq"}})
    assert bad.status_code == 422
    assert "unknown field" in bad.json["error"]["message"]
    segment = key.post("/segments", json={"name": "Berlin", "rule": rule}).json
    assert key.post(f"/segments/{segment['id']}/count").json == {
        "count": 2,
        "entered": 2,
        "left": 0,
    }

    entry = key.post("/suppressions", json={"email": "s0@example.com"})
    assert entry.status_code == 201
    assert key.get("/suppressions/check/S0@example.com").json == {"suppressed": True}
    assert key.post(f"/segments/{segment['id']}/count").json == {
        "count": 1,
        "entered": 0,
        "left": 1,
    }
    assert key.delete(f"/suppressions/{entry.json['id']}").status_code == 204
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0


def test_gdpr_endpoints_and_openapi(app, api, client) -> None:
    key = api(ALL)
    contact_id = key.put("/contacts", json={"email": "g@example.com"}).json["id"]
    assert key.get(f"/contacts/{contact_id}/export").json["profile"]["email"] == "g@example.com"
    assert key.post(f"/contacts/{contact_id}/erase").status_code == 204
    assert key.get("/suppressions/check/g@example.com").json == {"suppressed": True}
    spec = client.get("/api/v1/openapi.json").json
    assert (
        spec["paths"]["/api/v1/lists/{list_id}/subscribe"]["post"]["x-required-scope"]
        == "contacts.write"
    )
    assert "/api/v1/contacts/bulk" in spec["paths"]


def test_tags_api_and_openapi(app, api) -> None:
    key = api(ALL)
    with app.app_context():
        project = db.session.get(Project, key.project_id)
        a, b = make_contact(project, "a@example.com"), make_contact(project, "b@example.com")
        other = make_contact(make_project(), "x@example.com")
        a_id, b_id, other_id = a.id, b.id, other.id
    r = key.post(f"/contacts/{a_id}/tags", json={"tag": "webinar"})
    assert (r.status_code, r.json) == (200, {"tags": ["webinar"]})
    assert key.post(f"/contacts/{a_id}/tags", json={"tag": ""}).status_code == 422
    not_object = key.post(f"/contacts/{a_id}/tags", json=["webinar"])
    assert (not_object.status_code, not_object.json["error"]["fields"]) == (
        422,
        {"body": "an object"},
    )
    assert key.post(f"/contacts/{other_id}/tags", json={"tag": "x"}).status_code == 404
    bulk = key.post("/tags/vip/contacts", json={"contact_ids": [a_id, b_id, other_id]})
    assert bulk.json == {"tagged": 2}
    not_ids = key.post("/tags/vip/contacts", json={"contact_ids": ["1"]})
    assert not_ids.json["error"]["fields"] == {"contact_ids.0": "a whole number"}
    assert key.get(f"/contacts/{a_id}/tags").json == {"tags": ["vip", "webinar"]}
    assert key.get("/tags").json["data"] == [
        {"tag": "vip", "contacts": 2},
        {"tag": "webinar", "contacts": 1},
    ]
    assert key.delete(f"/contacts/{a_id}/tags/webinar").json == {"tags": ["vip"]}
    removed = key.post("/tags/vip/contacts/remove", json={"contact_ids": [a_id, b_id]})
    assert removed.json == {"untagged": 2}
    assert key.get(f"/contacts/{b_id}/tags").json == {"tags": []}

    reader = api([Permission.CONTACTS_READ.value])
    assert reader.get(f"/contacts/{a_id}/tags").status_code == 200
    assert reader.post("/tags/vip/contacts", json={"contact_ids": [a_id]}).status_code == 403
    paths = key.get("/openapi.json").json["paths"]
    assert "post" in paths["/api/v1/tags/{tag}/contacts"]
    assert {"get", "post"} <= set(paths["/api/v1/contacts/{contact_id}/tags"])
