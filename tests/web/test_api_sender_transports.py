"""/api/v1/senders/<id>/transports: add, list with health, change, remove; the URL never
comes back, bad values are named, other projects' senders are not found, audit has no secret."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from mailapp.access.permissions import Permission
from mailapp.crypto import decrypt
from mailapp.delivery.transport_choice import shared_health
from mailapp.extensions import db
from mailapp.models import AuditLog, SenderTransport
from tests.factories import make_project, make_sender
from tests.support.api import ApiCaller

SMTP = "smtp://relay-user:s3cretpass@relay.example.net:587?starttls=1"
MAILGUN = "mailgun+https://api:key-s3cretkey@api.mailgun.net/v3/example.com"


@pytest.fixture
def setup(app, client):
    project = make_project("acme")
    sender = make_sender(project)
    api = ApiCaller(client, project, [Permission.SENDERS_MANAGE.value])
    return project, sender, api


def test_transports_are_added_listed_with_health_changed_and_removed(setup):
    _, sender, api = setup
    path = f"/senders/{sender.id}/transports"
    assert api.get(path).json == []
    first = api.post(path, json={"name": "Main relay", "url": SMTP})
    assert first.status_code == 201, first.json
    second = api.post(path, json={"name": "Mailgun", "url": MAILGUN, "weight": 0})
    assert second.status_code == 201, second.json
    body = api.get(path).get_data(as_text=True)
    assert "s3cret" not in body
    listed = json.loads(body)
    assert [(t["name"], t["kind"], t["host"], t["weight"]) for t in listed] == [
        ("Main relay", "SMTP", "relay.example.net:587", 1),
        ("Mailgun", "Mailgun", "api.mailgun.net", 0),
    ]
    assert listed[0]["health"]["summary"] == "Healthy: 0 sent in the last 15 min"
    shared_health().record_relay_error(listed[0]["id"], "Connection refused")
    health = api.get(f"{path}/{listed[0]['id']}").json["health"]
    assert health["state"] == "failing"
    assert health["summary"].startswith("Failing since ")
    assert "Connection refused — mail goes to the next transport" in health["summary"]
    # A new server address starts with a clean health.
    fixed = api.patch(f"{path}/{listed[0]['id']}", json={"url": SMTP.replace("587", "465")})
    assert fixed.json["health"]["state"] == "healthy"
    assert fixed.json["host"] == "relay.example.net:465"

    changed = api.patch(f"{path}/{listed[1]['id']}", json={"weight": 2, "enabled": False})
    assert (changed.json["weight"], changed.json["enabled"]) == (2, False)
    stored = db.session.get(SenderTransport, listed[1]["id"])
    assert (
        decrypt(  # encrypted at rest, kept when the URL is not sent
            db.session.execute(
                sa.text("SELECT url FROM sender_transports WHERE id = :id"), {"id": stored.id}
            ).scalar_one()
        )
        == MAILGUN
    )

    assert api.delete(f"{path}/{listed[0]['id']}").status_code == 204
    assert [t["name"] for t in api.get(path).json] == ["Mailgun"]
    entries = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action.like("sender.transport.%")).order_by(AuditLog.id)
    ).all()
    assert [e.action for e in entries] == [
        "sender.transport.add",
        "sender.transport.add",
        "sender.transport.update",
        "sender.transport.update",
        "sender.transport.remove",
    ]
    assert "s3cret" not in json.dumps([e.context for e in entries])
    assert entries[0].context["host"] == "relay.example.net:587"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "http://relay.example.net"}, "url"),
        ({"name": "x", "url": "mailgun+http://api:k@api.mailgun.net/v3/example.com"}, "url"),
        ({"name": "", "url": SMTP}, "name"),
        ({"name": "x", "url": SMTP, "weight": -1}, "weight"),
    ],
)
def test_bad_values_are_named_and_nothing_is_saved(setup, body, field):
    _, sender, api = setup
    answer = api.post(f"/senders/{sender.id}/transports", json=body)
    assert answer.status_code in (400, 422)
    assert field in json.dumps(answer.json["error"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SenderTransport)) == 0


def test_a_mailgun_url_on_a_private_address_is_refused_in_production(app, setup):
    _, sender, api = setup
    app.config["MAILAPP_ENV"] = "production"
    url = "mailgun+https://api:k@10.0.0.5/v3/example.com"
    answer = api.post(f"/senders/{sender.id}/transports", json={"name": "x", "url": url})
    assert answer.status_code == 422
    assert "private addresses are refused" in answer.json["error"]["fields"]["url"]


def test_other_projects_senders_and_transports_are_not_found(setup):
    _, sender, api = setup
    other = make_sender(make_project("other"))
    transport = SenderTransport(
        project_id=other.project_id, sender_id=other.id, name="Theirs", url=SMTP
    )
    db.session.add(transport)
    db.session.commit()
    assert api.get(f"/senders/{other.id}/transports").status_code == 404
    assert (
        api.post(f"/senders/{other.id}/transports", json={"name": "x", "url": SMTP}).status_code
        == 404
    )
    assert api.get(f"/senders/{sender.id}/transports/{transport.id}").status_code == 404
    assert api.delete(f"/senders/{other.id}/transports/{transport.id}").status_code == 404


def test_a_key_without_senders_manage_is_refused(app, client, setup):
    project, sender, _ = setup
    reader = ApiCaller(client, project, [Permission.CAMPAIGNS_SEND.value])
    assert reader.get(f"/senders/{sender.id}/transports").status_code == 403
