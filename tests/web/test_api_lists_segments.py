"""Lists, segments and the suppression list through the API, as the back office manages them:
read, change and delete (refused while an open campaign sends to them), audited, per project."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator

from mailapp.access.audit import Actor
from mailapp.access.permissions import Permission
from mailapp.audience.suppression import suppress
from mailapp.extensions import db
from mailapp.models import (
    AuditLog,
    CampaignStatus,
    ConsentRecord,
    ListMembership,
    Segment,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from tests.factories import make_contact, make_project, make_sent_campaign
from tests.support.api import ApiCaller

EVERYTHING = [p.value for p in Permission]
BERLIN = {"field": "attributes.city", "op": "eq", "value": "Berlin"}


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def api(client, project):
    """An ApiCaller with the given scopes (all by default) of a project."""

    def caller(scopes=EVERYTHING, of=project):
        return ApiCaller(client, of, scopes)

    return caller


def audit(action: str) -> list[AuditLog]:
    return db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
    ).all()


def test_a_list_is_shown_with_its_counts_and_changed_field_by_field(api, project):
    key = api()
    created = key.post("/lists", json={"name": "News", "description": "monthly"})
    assert created.status_code == 201
    list_id = created.json["id"]
    assert created.json["signup_url"] is None
    ids = [key.put("/contacts", json={"email": f"n{i}@example.com"}).json["id"] for i in range(3)]
    key.post(f"/lists/{list_id}/members", json={"contact_ids": ids})

    shown = key.get(f"/lists/{list_id}")
    assert shown.status_code == 200
    assert (shown.json["name"], shown.json["description"]) == ("News", "monthly")
    assert shown.json["members"] == {"confirmed": 3}

    changed = key.patch(
        f"/lists/{list_id}",
        json={
            "name": "Newsletter",
            "opt_in": "double",
            "is_public": True,
            "consent_text": "I want the newsletter",
            "consent_version": "v2",
            "description": None,
        },
    )
    assert changed.status_code == 200
    body = changed.json
    assert (body["name"], body["opt_in"], body["is_public"], body["description"]) == (
        "Newsletter",
        "double",
        True,
        None,
    )
    assert (body["consent_text"], body["consent_version"]) == ("I want the newsletter", "v2")
    assert body["members"] == {"confirmed": 3}, "members are not touched by a change"
    assert body["signup_url"].startswith("http://mail.test/subscribe/")
    entry = audit("list.update")[-1]
    assert entry.context["changed"] == [
        "consent_text",
        "consent_version",
        "description",
        "is_public",
        "name",
        "opt_in",
    ]
    assert entry.actor_api_key_id is not None
    # Only the key sent changes.
    assert key.patch(f"/lists/{list_id}", json={"is_public": False}).json["name"] == "Newsletter"

    wrong = key.patch(f"/lists/{list_id}", json={"opt_in": "triple", "colour": "red", "name": ""})
    assert wrong.status_code == 422
    assert wrong.json["error"]["code"] == "invalid"
    assert wrong.json["error"]["fields"] == {
        "opt_in": "one of single, double",
        "colour": "not a field of this request",
        "name": "required",
    }
    blank = key.patch(f"/lists/{list_id}", json={"name": "   "})
    assert (blank.status_code, blank.json["error"]["message"]) == (
        422,
        "a list name has 1-200 characters",
    )
    assert key.get(f"/lists/{list_id}").json["name"] == "Newsletter"
    missing = key.post(f"/lists/{list_id}/members", json={"ids": [1]})
    assert missing.json["error"]["fields"] == {
        "contact_ids": "required",
        "ids": "not a field of this request",
    }


def test_a_list_is_not_deleted_under_an_open_campaign_and_its_consent_records_stay(
    app, api, project
):
    key = api()
    list_id = key.post("/lists", json={"name": "Shop", "opt_in": "double"}).json["id"]
    key.post(f"/lists/{list_id}/subscribe", json={"email": "ada@example.com", "ip": "192.0.2.1"})
    campaign = make_sent_campaign(
        project, name="Spring sale", status=CampaignStatus.SCHEDULED, audience={"lists": [list_id]}
    )

    refused = key.delete(f"/lists/{list_id}")
    assert refused.status_code == 422
    assert "Spring sale" in refused.json["error"]["message"]
    assert key.get(f"/lists/{list_id}").status_code == 200

    campaign.status = CampaignStatus.SENT
    db.session.commit()
    assert key.delete(f"/lists/{list_id}").status_code == 204
    assert key.get(f"/lists/{list_id}").status_code == 404
    assert key.delete(f"/lists/{list_id}").status_code == 404
    db.session.expire_all()
    memberships = sa.select(sa.func.count()).select_from(ListMembership)
    assert db.session.scalar(memberships) == 0
    consent = db.session.scalar(sa.select(ConsentRecord))
    assert (consent.ip, consent.list_id) == ("192.0.2.1", None), "consent evidence is kept"
    entry = audit("list.delete")[-1]
    assert entry.context == {
        "name": "Shop",
        "members": {"unconfirmed": 1},
        "consent_records_kept": 1,
    }


def test_segments_are_listed_shown_changed_and_deleted(api, project):
    key = api()
    for i, city in enumerate(["Berlin", "Berlin", "Oslo"]):
        make_contact(project, f"s{i}@example.com", attributes={"city": city})
    created = key.post("/segments", json={"name": "Berlin", "rule": BERLIN, "description": "DE"})
    assert created.status_code == 201
    segment_id = created.json["id"]
    assert (created.json["last_count"], created.json["description"]) == (2, "DE")

    listing = key.get("/segments")
    assert listing.status_code == 200
    assert [(s["id"], s["name"], s["last_count"]) for s in listing.json] == [
        (segment_id, "Berlin", 2)
    ]
    assert listing.json[0]["last_counted_at"] is not None
    assert "rule" not in listing.json[0]

    shown = key.get(f"/segments/{segment_id}").json
    assert shown["rule"] == BERLIN
    assert shown["rule_description"] == "contacts whose city is Berlin"

    oslo = {**BERLIN, "value": "Oslo"}
    changed = key.patch(f"/segments/{segment_id}", json={"rule": oslo})
    assert changed.status_code == 200
    assert (changed.json["name"], changed.json["description"]) == ("Berlin", "DE")
    assert (changed.json["last_count"], changed.json["rule_description"]) == (
        1,
        "contacts whose city is Oslo",
    )
    assert audit("segment.update")[-1].context == {"name": "Berlin", "count": 1}
    renamed = key.patch(f"/segments/{segment_id}", json={"name": "Oslo", "description": None})
    assert (renamed.json["name"], renamed.json["description"], renamed.json["rule"]) == (
        "Oslo",
        None,
        oslo,
    )

    bad_rule = key.patch(f"/segments/{segment_id}", json={"rule": {"field": "x", "op": "eq"}})
    assert bad_rule.status_code == 422
    assert "unknown field" in bad_rule.json["error"]["message"]
    bad_types = key.patch(f"/segments/{segment_id}", json={"name": 3, "rule": []})
    assert bad_types.json["error"]["fields"] == {"name": "a text", "rule": "an object"}
    assert key.post("/segments", json={"name": "x"}).json["error"]["fields"] == {"rule": "required"}
    assert key.post("/segments/count", json={}).json["error"]["fields"] == {"rule": "required"}
    assert key.get(f"/segments/{segment_id}").json["rule"] == oslo

    campaign = make_sent_campaign(
        project, name="Fjord", status=CampaignStatus.DRAFT, audience={"segment_id": segment_id}
    )
    refused = key.delete(f"/segments/{segment_id}")
    assert refused.status_code == 422
    assert "Fjord" in refused.json["error"]["message"]
    campaign.status = CampaignStatus.CANCELLED
    db.session.commit()
    assert key.delete(f"/segments/{segment_id}").status_code == 204
    assert key.get(f"/segments/{segment_id}").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Segment)) == 0
    assert audit("segment.delete")[-1].context == {"name": "Oslo"}


def test_the_suppression_list_is_paged_and_filtered_showing_what_the_back_office_shows(
    api, project
):
    key = api()
    actor = Actor.system("test")
    for i in range(5):
        suppress(project.id, f"bounce{i}@example.com", SuppressionReason.HARD_BOUNCE, actor=actor)
    suppress(project.id, "Left@Shop.example", SuppressionReason.UNSUBSCRIBE, actor=actor)
    key.post("/suppressions", json={"email": "manual@example.com", "note": "asked by phone"})
    erased_id = key.put("/contacts", json={"email": "gone@example.com"}).json["id"]
    key.post(f"/contacts/{erased_id}/erase")

    seen, cursor, pages = [], 0, 0
    while cursor is not None:
        page = key.get(f"/suppressions?limit=3&after={cursor}")
        assert page.status_code == 200
        seen += page.json["data"]
        cursor, pages = page.json["next_cursor"], pages + 1
    assert (len(seen), pages) == (8, 3)
    assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)
    manual = next(e for e in seen if e["email"] == "manual@example.com")
    assert set(manual) == {"id", "email", "reason", "source", "note", "created_at"}
    assert (manual["reason"], manual["source"], manual["note"]) == (
        "manual",
        "api",
        "asked by phone",
    )

    bounces = key.get("/suppressions?reason=hard_bounce").json
    assert len(bounces["data"]) == 5
    assert bounces["next_cursor"] is None
    assert [e["email"] for e in key.get("/suppressions?email=SHOP").json["data"]] == [
        "left@shop.example"
    ]
    exact = key.get("/suppressions?email_exact=BOUNCE1@example.com").json["data"]
    assert [e["email"] for e in exact] == ["bounce1@example.com"]
    erased = key.get("/suppressions?email_exact=gone@example.com").json["data"]
    assert [(e["email"], e["reason"]) for e in erased] == [(None, "erasure")]
    assert key.get("/suppressions?source=api").json["data"][0]["email"] == "manual@example.com"
    hour_ago = (utcnow() - timedelta(hours=1)).isoformat()
    in_an_hour = quote((utcnow() + timedelta(hours=1)).isoformat())
    assert len(key.get(f"/suppressions?since={quote(hour_ago)}").json["data"]) == 8
    assert key.get(f"/suppressions?since={in_an_hour}").json["data"] == []
    assert key.get(f"/suppressions?until={quote(hour_ago)}").json["data"] == []
    assert len(key.get("/suppressions?until=2999-01-01T00:00:00Z").json["data"]) == 8
    naive = key.get("/suppressions?since=2026-01-01T00:00:00")
    assert naive.json["error"]["fields"]["since"].startswith("an ISO 8601 time with its offset")

    wrong = key.get("/suppressions?reason=spam&limit=0&after=x")
    assert wrong.status_code == 422
    fields = wrong.json["error"]["fields"]
    assert fields["limit"] == "at least 1"
    assert fields["after"] == "a whole number"
    assert fields["reason"].startswith("one of unsubscribe, hard_bounce")
    assert key.post("/suppressions", json={"email": "nope"}).json["error"]["fields"] == {
        "email": "an email address"
    }


def test_another_projects_lists_segments_and_entries_are_404(api, project):
    other = make_project("other")
    theirs = api(of=other)
    list_id = theirs.post("/lists", json={"name": "Theirs"}).json["id"]
    segment_id = theirs.post("/segments", json={"name": "T", "rule": BERLIN}).json["id"]
    entry_id = theirs.post("/suppressions", json={"email": "t@example.com"}).json["id"]
    key = api()
    for method, path, body in [
        ("get", f"/lists/{list_id}", None),
        ("patch", f"/lists/{list_id}", {"name": "Mine"}),
        ("delete", f"/lists/{list_id}", None),
        ("get", f"/segments/{segment_id}", None),
        ("patch", f"/segments/{segment_id}", {"name": "Mine"}),
        ("delete", f"/segments/{segment_id}", None),
        ("delete", f"/suppressions/{entry_id}", None),
    ]:
        response = getattr(key, method)(path, json=body) if body else getattr(key, method)(path)
        assert response.status_code == 404, (method, path)
        assert response.json["error"]["code"] == "not_found"
    assert key.get("/lists").json == []
    assert key.get("/segments").json == []
    assert key.get("/suppressions").json["data"] == []
    assert theirs.get(f"/lists/{list_id}").json["name"] == "Theirs"
    assert theirs.get(f"/segments/{segment_id}").json["name"] == "T"


def test_scopes_are_needed_and_named_in_the_openapi_document(api, project, client):
    reader = api([Permission.CONTACTS_READ.value])
    writer = api()
    list_id = writer.post("/lists", json={"name": "L"}).json["id"]
    segment_id = writer.post("/segments", json={"name": "S", "rule": BERLIN}).json["id"]
    assert reader.get(f"/lists/{list_id}").status_code == 200
    assert reader.get(f"/segments/{segment_id}").status_code == 200
    assert reader.get("/suppressions").status_code == 200
    assert reader.patch(f"/lists/{list_id}", json={"name": "x"}).status_code == 403
    assert reader.delete(f"/lists/{list_id}").status_code == 403
    assert reader.patch(f"/segments/{segment_id}", json={"name": "x"}).status_code == 403
    assert reader.delete(f"/segments/{segment_id}").status_code == 403
    nobody = api([Permission.TEMPLATES_WRITE.value])
    assert nobody.get("/suppressions").status_code == 403
    assert nobody.get("/segments").status_code == 403
    refusals = audit("api.forbidden")
    assert len(refusals) == 6

    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    scopes = {
        ("/api/v1/lists/{list_id}", "get"): "contacts.read",
        ("/api/v1/lists/{list_id}", "patch"): "contacts.write",
        ("/api/v1/lists/{list_id}", "delete"): "contacts.write",
        ("/api/v1/segments", "get"): "contacts.read",
        ("/api/v1/segments/{segment_id}", "get"): "contacts.read",
        ("/api/v1/segments/{segment_id}", "patch"): "contacts.write",
        ("/api/v1/segments/{segment_id}", "delete"): "contacts.write",
        ("/api/v1/suppressions", "get"): "contacts.read",
    }
    for (path, method), scope in scopes.items():
        assert paths[path][method]["x-required-scope"] == scope, (path, method)
    assert set(paths["/api/v1/lists/{list_id}"]["delete"]["responses"]) >= {"204", "404", "422"}
    query = [p["name"] for p in paths["/api/v1/suppressions"]["get"]["parameters"]]
    assert query == ["after", "limit", "reason", "source", "email", "email_exact", "since", "until"]
    # Every schema in the document is a valid JSON Schema (Draft 2020-12, as OpenAPI 3.1).
    for item in paths.values():
        for operation in item.values():
            for response in operation["responses"].values():
                for media in response.get("content", {}).values():
                    Draft202012Validator.check_schema(media["schema"])
            for media in operation.get("requestBody", {}).get("content", {}).values():
                Draft202012Validator.check_schema(media["schema"])
