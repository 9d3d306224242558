"""POST /api/v1/events: stored once per idempotency key, checked, scoped to the key's project."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.models import JourneyEvent
from tests.factories import TEST_ACTOR, make_contact, make_project


def headers(project, *scopes, **extra):
    _, key = create_api_key(project.id, "t", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}", **extra}


def stored() -> list[JourneyEvent]:
    db.session.expire_all()
    return db.session.scalars(sa.select(JourneyEvent).order_by(JourneyEvent.id)).all()


def test_an_event_is_accepted_once_per_idempotency_key(app, client):
    project = make_project("acme")
    ann = make_contact(project, email="ann@example.org")
    auth = headers(project, "events.write", **{"Idempotency-Key": "order-77"})
    body = {"email": "Ann@Example.org", "name": "purchase", "data": {"order_id": 77}}
    first = client.post("/api/v1/events", json=body, headers=auth)
    assert first.status_code == 202
    assert first.json == {
        "id": first.json["id"],
        "contact_id": ann.id,
        "name": "purchase",
        "replayed": False,
    }
    again = client.post("/api/v1/events", json=body, headers=auth)
    assert (again.status_code, again.json["id"], again.json["replayed"]) == (
        202,
        first.json["id"],
        True,
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    # The key may come in the body too; the same key for another event is refused.
    by_field = client.post(
        "/api/v1/events",
        json={**body, "data": {"order_id": 78}, "idempotency_key": "order-77"},
        headers=headers(project, "events.write"),
    )
    assert (by_field.status_code, by_field.json["error"]["code"]) == (
        422,
        "idempotency_key_reused",
    )
    events = stored()
    assert [(e.contact_id, e.name, e.data) for e in events] == [
        (ann.id, "purchase", {"order_id": 77})
    ]


def test_a_wrong_event_answers_422_naming_the_field_and_stores_nothing(app, client):
    project = make_project("acme")
    make_contact(project, email="ann@example.org")
    auth = headers(project, "events.write")
    bad = client.post(
        "/api/v1/events",
        json={"email": "ann@example.org", "name": "no spaces", "data": []},
        headers=auth,
    )
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"name", "data"}
    nobody = client.post("/api/v1/events", json={"name": "purchase"}, headers=auth)
    assert nobody.status_code == 422
    assert stored() == []


def test_events_stay_in_the_keys_project_and_need_their_scope(app, client):
    acme, rival = make_project("acme"), make_project("rival")
    theirs = make_contact(rival, email="bob@example.org")
    auth = headers(acme, "events.write")
    other = client.post(
        "/api/v1/events", json={"contact_id": theirs.id, "name": "purchase"}, headers=auth
    )
    assert other.status_code == 404
    by_address = client.post(
        "/api/v1/events", json={"email": "bob@example.org", "name": "purchase"}, headers=auth
    )
    assert by_address.status_code == 404
    readonly = headers(acme, "journeys.read", "contacts.write")
    assert (
        client.post(
            "/api/v1/events", json={"email": "x@example.org", "name": "a"}, headers=readonly
        ).status_code
        == 403
    )
    assert stored() == []
