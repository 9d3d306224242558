"""The journeys API: status and per-step counts, enroll and unenroll, a contact's passes."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.audience.segments.store import save_segment
from mailapp.extensions import db
from mailapp.journeys.journeys import create_journey, publish_journey
from mailapp.models import AuditLog, Enrollment
from tests.factories import TEST_ACTOR, make_contact, make_project

HOLD = {
    "start": "hold",
    "steps": {"hold": {"type": "wait", "mode": "duration", "minutes": 10080, "next": None}},
}


def headers(project, *scopes):
    _, key = create_api_key(project.id, "t", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def running(project, name="Welcome", settings=None):
    journey = create_journey(
        project,
        name,
        actor=TEST_ACTOR,
        trigger={"type": "manual"},
        graph=HOLD,
        settings=settings or {"reentry": "once"},
    )
    publish_journey(project, journey.id, actor=TEST_ACTOR)
    return journey


def inside(journey) -> list[int]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(
            sa.select(Enrollment.contact_id).where(
                Enrollment.journey_id == journey.id, Enrollment.status.in_(["active", "waiting"])
            )
        )
    )


def test_journeys_are_listed_with_status_version_and_step_counts(app, client):
    project = make_project("acme")
    journey = running(project)
    create_journey(project, "Draft one", actor=TEST_ACTOR)
    auth = headers(project, "journeys.read", "journeys.write")
    listed = client.get("/api/v1/journeys", headers=auth).json["data"]
    assert {(j["name"], j["status"], j["version"]) for j in listed} == {
        ("Welcome", "active", 1),
        ("Draft one", "draft", None),
    }
    ann = make_contact(project)
    client.post(
        f"/api/v1/journeys/{journey.id}/enroll", json={"contact_ids": [ann.id]}, headers=auth
    )
    shown = client.get(f"/api/v1/journeys/{journey.id}", headers=auth).json
    assert shown["trigger"] == {"type": "manual"}
    assert shown["steps"]["hold"]["waiting"] == 1


def test_enroll_by_ids_addresses_or_segment_and_unenroll(app, client):
    project = make_project("acme")
    journey = running(project)
    ann = make_contact(project, email="ann@example.org")
    bob = make_contact(project, email="bob@example.org", attributes={"vip": True})
    cat = make_contact(project, email="cat@example.org", status="unsubscribed")
    auth = headers(project, "journeys.write", "journeys.read")
    url = f"/api/v1/journeys/{journey.id}"
    by_ids = client.post(
        f"{url}/enroll", json={"contact_ids": [ann.id, cat.id], "data": {"x": 1}}, headers=auth
    )
    assert by_ids.json == {"enrolled": 1}  # an unsubscribed contact does not enter
    by_email = client.post(f"{url}/enroll", json={"emails": ["ANN@example.org"]}, headers=auth)
    assert by_email.json == {"enrolled": 0}  # "once": already inside
    segment = save_segment(
        project.id, "VIPs", {"field": "attributes.vip", "op": "eq", "value": True}, actor=TEST_ACTOR
    )
    assert client.post(f"{url}/enroll", json={"segment_id": segment.id}, headers=auth).json == {
        "enrolled": 1
    }
    assert inside(journey) == sorted([ann.id, bob.id])
    out = client.post(f"{url}/unenroll", json={"email": "ann@example.org"}, headers=auth)
    assert out.json == {"unenrolled": True}
    assert inside(journey) == [bob.id]
    assert (
        client.post(f"{url}/unenroll", json={"contact_id": ann.id}, headers=auth).status_code == 404
    )
    passes = client.get(f"{url}/enrollments?contact=ann@example.org", headers=auth).json["data"]
    assert [(p["status"], p["exit_reason"], p["data"], p["version"]) for p in passes] == [
        ("exited", "manual", {"x": 1}, 1)
    ]
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(AuditLog.action == "journey.unenroll"))
        == 1
    )


def test_wrong_requests_answer_422_and_change_nothing(app, client):
    project = make_project("acme")
    journey = running(project)
    ann = make_contact(project)
    auth = headers(project, "journeys.write", "journeys.read")
    url = f"/api/v1/journeys/{journey.id}"
    two = client.post(
        f"{url}/enroll", json={"contact_ids": [ann.id], "segment_id": 1}, headers=auth
    )
    assert two.status_code == 422
    typed = client.post(f"{url}/enroll", json={"contact_ids": ["x"], "colour": 1}, headers=auth)
    assert set(typed.json["error"]["fields"]) == {"contact_ids.0", "colour"}
    assert client.post(f"{url}/unenroll", json={}, headers=auth).status_code == 422
    assert client.get(f"{url}/enrollments", headers=auth).status_code == 422
    draft = create_journey(project, "Draft", actor=TEST_ACTOR)
    refused = client.post(
        f"/api/v1/journeys/{draft.id}/enroll", json={"contact_ids": [ann.id]}, headers=auth
    )
    assert refused.status_code == 422
    assert inside(journey) == []


def test_another_projects_journey_is_not_found_and_scopes_are_checked(app, client):
    acme, rival = make_project("acme"), make_project("rival")
    theirs = running(rival, "Theirs")
    mine = make_contact(acme)
    auth = headers(acme, "journeys.read", "journeys.write")
    assert client.get(f"/api/v1/journeys/{theirs.id}", headers=auth).status_code == 404
    assert (
        client.post(
            f"/api/v1/journeys/{theirs.id}/enroll", json={"contact_ids": [mine.id]}, headers=auth
        ).status_code
        == 404
    )
    assert client.get("/api/v1/journeys", headers=auth).json["data"] == []
    reader = headers(acme, "journeys.read")
    journey = running(acme)
    stranger = make_contact(rival)
    url = f"/api/v1/journeys/{journey.id}"
    alien = client.post(f"{url}/enroll", json={"contact_ids": [stranger.id]}, headers=auth)
    assert alien.json == {"enrolled": 0}  # another project's contact never enters
    assert client.get(f"{url}/enrollments?contact={stranger.id}", headers=auth).status_code == 404
    assert (
        client.post(
            f"/api/v1/journeys/{journey.id}/enroll", json={"contact_ids": [mine.id]}, headers=reader
        ).status_code
        == 403
    )
    assert client.get("/api/v1/journeys", headers=headers(acme, "contacts.read")).status_code == 403
    assert inside(journey) == []
    assert inside(theirs) == []


def test_the_openapi_document_describes_the_journey_and_event_routes(app, client):
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/events",
        "/api/v1/journeys",
        "/api/v1/journeys/{journey_id}",
        "/api/v1/journeys/{journey_id}/enroll",
        "/api/v1/journeys/{journey_id}/unenroll",
        "/api/v1/journeys/{journey_id}/enrollments",
    ):
        assert path in spec["paths"], path
    assert "requestBody" in spec["paths"]["/api/v1/journeys/{journey_id}/enroll"]["post"]
