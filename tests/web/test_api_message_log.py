"""GET /api/v1/messages and /messages/<id>/events, and tags on POST /messages."""

from __future__ import annotations

from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.models import DeliveryStatus, Message
from tests.factories import TEST_ACTOR, make_project, make_sender, submit_tx


def auth(project, scopes=("messages.read", "contacts.read", "campaigns.send")):
    _, key = create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def test_post_takes_tags_and_refuses_bad_ones_naming_the_field(app, client):
    project = make_project("shop")
    make_sender(project)
    content = {"subject": "Code", "text": "1234"}
    body = {"to": "ada@example.org", "content": content, "tags": ["OTP", "login"]}
    created = client.post("/api/v1/messages", json=body, headers=auth(project))
    assert created.status_code == 201
    assert created.json["tags"] == ["login", "otp"]
    bad = client.post("/api/v1/messages", json={**body, "tags": ["a b"]}, headers=auth(project))
    assert bad.status_code == 422
    assert bad.json["error"]["fields"] == {
        "tags.0": "not in the expected form: 1-64 characters: letters, digits, '.', '_' and '-', "
        "starting with a letter or digit"
    }
    assert db.session.query(Message).count() == 1


def test_list_searches_filters_and_pages_by_keyset(app, client):
    project = make_project("shop")
    make_sender(project)
    made = [submit_tx(project, f"p{n}@example.org", tags=["bulk"]).id for n in range(5)]
    failed = submit_tx(project, "ada@example.org", idempotency_key="order-42")
    db.session.get(Message, failed.id).status = DeliveryStatus.FAILED
    db.session.commit()
    headers = auth(project)
    found = client.get("/api/v1/messages?q=order-42", headers=headers).json["data"]
    assert [m["id"] for m in found] == [failed.id]
    assert found[0]["to"] == "ada@example.org"
    assert (
        client.get("/api/v1/messages?status=failed", headers=headers).json["data"][0]["id"]
        == failed.id
    )
    first = client.get("/api/v1/messages?tag=bulk&limit=3", headers=headers).json
    assert [m["id"] for m in first["data"]] == made[::-1][:3]
    second = client.get(first["next"], headers=headers).json
    assert [m["id"] for m in second["data"]] == made[::-1][3:]
    assert second["next"] is None
    bad = client.get("/api/v1/messages?since=soon", headers=headers)
    assert bad.status_code == 422
    assert bad.json["error"]["message"].startswith("since:")
    assert client.get("/api/v1/messages?limit=0", headers=headers).status_code == 422


def test_addresses_are_masked_without_contacts_read_and_the_scope_is_needed(app, client):
    project = make_project("shop")
    make_sender(project)
    submit_tx(project, "ada@example.org")
    masked = client.get("/api/v1/messages", headers=auth(project, ["messages.read"])).json
    assert masked["data"][0]["to"] == "a***@example.org"
    refused = client.get("/api/v1/messages", headers=auth(project, ["campaigns.send"]))
    assert refused.status_code == 403


def test_events_tell_the_timeline_and_stay_in_the_project(app, client):
    project, other = make_project("shop"), make_project("other")
    make_sender(project)
    message = submit_tx(project)
    events = client.get(f"/api/v1/messages/{message.id}/events", headers=auth(project)).json
    assert [e["kind"] for e in events["data"]] == ["accepted", "queued"]
    assert (
        client.get(f"/api/v1/messages/{message.id}/events", headers=auth(other)).status_code == 404
    )


def test_openapi_documents_the_log_and_its_cursor(app, client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    listing = paths["/api/v1/messages"]["get"]
    assert listing["x-required-scope"] == "messages.read"
    assert {"q", "status", "template", "tag", "sender", "since", "until", "before"} <= {
        p["name"] for p in listing["parameters"]
    }
    assert "/api/v1/messages/{message_id}/events" in paths
    post = paths["/api/v1/messages"]["post"]["requestBody"]["content"]["application/json"]
    assert post["schema"]["properties"]["tags"]["maxItems"] == 5
