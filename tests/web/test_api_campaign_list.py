"""Campaign listing: newest first, a status filter, keyset pages, progress per campaign, tenancy."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.models import CampaignStatus, DeliveryStatus
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
)


def bearer(project, *scopes):
    _, key = create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def test_campaigns_are_listed_newest_first_a_page_at_a_time(app, client):
    project, other = make_project(), make_project()
    drafts = [
        make_sent_campaign(project, name=f"draft {i}", status=CampaignStatus.DRAFT)
        for i in range(3)
    ]
    sent = [make_sent_campaign(project, name=f"sent {i}") for i in range(2)]
    make_sent_campaign(other, name="not ours")
    ann, bob = make_contact(project, "ann@example.com"), make_contact(project, "bob@example.com")
    make_delivery(sent[0], ann)
    make_delivery(sent[0], bob, status=DeliveryStatus.FAILED)
    make_delivery(sent[1], ann, status=DeliveryStatus.QUEUED)
    headers = bearer(project, "campaigns.write")

    everything = client.get("/api/v1/campaigns", headers=headers)
    assert everything.status_code == 200
    listed = everything.get_json()
    ids = [c["id"] for c in listed["data"]]
    assert ids == sorted([c.id for c in drafts + sent], reverse=True)
    assert listed["next_cursor"] is None
    by_id = {c["id"]: c for c in listed["data"]}
    assert by_id[sent[0].id]["progress"]["sent"] == 1
    assert by_id[sent[0].id]["progress"]["failed"] == 1
    assert by_id[sent[0].id]["progress"]["total"] == 2
    assert by_id[sent[1].id]["progress"]["queued"] == 1
    assert by_id[drafts[0].id]["progress"]["total"] == 0
    # The progress in a listing is the one the single GET gives.
    single = client.get(f"/api/v1/campaigns/{sent[0].id}", headers=headers).get_json()
    assert single == by_id[sent[0].id]

    first = client.get("/api/v1/campaigns?limit=2", headers=headers).get_json()
    assert [c["id"] for c in first["data"]] == ids[:2]
    assert first["next_cursor"] == ids[1]
    second = client.get(
        f"/api/v1/campaigns?limit=2&after={first['next_cursor']}", headers=headers
    ).get_json()
    assert [c["id"] for c in second["data"]] == ids[2:4]
    last = client.get(
        f"/api/v1/campaigns?limit=2&after={second['next_cursor']}", headers=headers
    ).get_json()
    assert [c["id"] for c in last["data"]] == ids[4:]
    assert last["next_cursor"] is None

    only_drafts = client.get("/api/v1/campaigns?status=draft", headers=headers).get_json()
    assert sorted(c["id"] for c in only_drafts["data"]) == sorted(c.id for c in drafts)
    assert {c["status"] for c in only_drafts["data"]} == {"draft"}


def test_listing_counts_progress_in_one_query_per_page(app, client):
    project = make_project()
    contact = make_contact(project, "ann@example.com")
    for i in range(6):
        make_delivery(make_sent_campaign(project, name=f"c{i}"), contact)
    headers = bearer(project, "campaigns.write")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get("/api/v1/campaigns", headers=headers)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(response.get_json()["data"]) == 6
    assert sum("FROM deliveries" in s for s in statements) == 1


def test_listing_refuses_bad_queries_and_missing_scopes(app, client):
    project = make_project()
    headers = bearer(project, "campaigns.write")
    bad = client.get("/api/v1/campaigns?status=someday&limit=0", headers=headers)
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"status", "limit"}
    assert client.get("/api/v1/campaigns").status_code == 401
    refused = client.get("/api/v1/campaigns", headers=bearer(project, "contacts.read"))
    assert refused.status_code == 403


def test_openapi_lists_the_campaign_listing_with_its_scope(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/campaigns"]["get"]
    assert operation["x-required-scope"] == "campaigns.write"
    assert {p["name"] for p in operation["parameters"]} == {"after", "limit", "status"}
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["required"] == ["data", "next_cursor"]
