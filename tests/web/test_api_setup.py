"""Setting a project up through the API alone: senders and DKIM keys, templates through review,
the project's postal address; and a campaign made only of what the API set up, sent for real."""

from __future__ import annotations

import email

import pytest
import sqlalchemy as sa

from mailapp.access.permissions import Permission
from mailapp.crypto import decrypt
from mailapp.extensions import db
from mailapp.models import AuditLog, Project, Sender, Template, VersionStatus
from tests.factories import (
    dkim_key,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.api import ApiCaller
from tests.support.pipeline import pipeline_sink, run_pipeline

EVERYTHING = [p.value for p in Permission]


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def api(client, project):
    """An ApiCaller with the given scopes (all by default) of a project."""

    def caller(scopes=EVERYTHING, of=project):
        return ApiCaller(client, of, scopes)

    return caller


def audit_actions(prefix: str) -> list[str]:
    return db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.action.like(f"{prefix}%")).order_by(AuditLog.id)
    ).all()


def test_senders_are_created_checked_and_never_give_their_secrets_back(api, project):
    key = api()
    pem = dkim_key()
    created = key.post(
        "/senders",
        json={
            "name": "News",
            "from_name": "Acme",
            "from_email": "News@Acme.example",
            "dkim_selector": "m1",
            "dkim_private_key": pem,
            "transport_url": "smtp://user:s3cret@relay.example:587?starttls=1",
            "rate_per_second": 20,
        },
    )
    assert created.status_code == 201
    body = created.json
    assert (body["domain"], body["has_dkim_key"], body["has_transport"]) == (
        "acme.example",
        True,
        True,
    )
    assert "s3cret" not in created.get_data(as_text=True)
    assert "PRIVATE KEY" not in created.get_data(as_text=True)
    stored = db.session.get(Sender, body["id"])
    assert stored.transport_url == "smtp://user:s3cret@relay.example:587?starttls=1"
    raw = db.session.execute(
        sa.text("SELECT transport_url FROM senders WHERE id = :id"), {"id": stored.id}
    ).scalar()
    assert "s3cret" not in raw
    assert "s3cret" in decrypt(raw)
    assert "s3cret" not in key.get(f"/senders/{stored.id}").get_data(as_text=True)
    assert [s["id"] for s in key.get("/senders").json] == [stored.id]

    # Wrong types and forms are named by the schema, before anything runs ...
    typed = key.post(
        "/senders",
        json={"name": "x", "from_email": "nope", "rate_per_hour": 0, "colour": "red"},
    )
    assert typed.status_code == 422
    assert typed.json["error"]["fields"] == {
        "colour": "not a field of this request",
        "from_email": "an email address",
        "from_name": "required",
        "rate_per_hour": "at least 1",
    }
    # ... and what only the service can judge is named by the service, all at once.
    judged = key.post(
        "/senders",
        json={
            "name": "x",
            "from_name": "X",
            "from_email": "x@acme.example",
            "bounce_domain": "not a domain",
            "transport_url": "http://relay.example",
            "dkim_private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----",
        },
    )
    assert judged.status_code == 422
    assert set(judged.json["error"]["fields"]) == {
        "bounce_domain",
        "transport_url",
        "dkim_private_key",
    }
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Sender)) == 1

    changed = key.patch(
        f"/senders/{stored.id}", json={"from_name": "Acme News", "transport_url": None}
    )
    assert (changed.json["from_name"], changed.json["has_transport"]) == ("Acme News", False)
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "sender.update")).one()
    assert entry.context["changed"] == ["from_name", "transport_url"]
    assert entry.actor_api_key_id is not None
    assert audit_actions("sender.") == ["sender.create", "sender.update"]

    # A tracking domain: a host name under the sending domain, not the domain itself.
    apex = key.patch(f"/senders/{stored.id}", json={"tracking_domain": "acme.example"})
    assert apex.status_code == 422
    assert "links.acme.example" in apex.json["error"]["fields"]["tracking_domain"]
    links = key.patch(f"/senders/{stored.id}", json={"tracking_domain": "Links.Acme.example"})
    assert links.json["tracking_domain"] == "links.acme.example"


def test_dkim_keys_are_made_on_the_server_and_show_the_record_to_publish(api, project):
    key = api()
    sender = key.post(
        "/senders", json={"name": "n", "from_name": "N", "from_email": "n@acme.example"}
    ).json
    missing = key.get(f"/senders/{sender['id']}/dkim")
    assert missing.status_code == 404
    assert "POST /senders" in missing.json["error"]["message"]
    made = key.post(f"/senders/{sender['id']}/dkim")
    assert made.status_code == 201
    record = made.json
    assert record["name"] == f"{record['selector']}._domainkey.acme.example"
    assert record["value"].startswith("v=DKIM1; k=rsa; p=")
    assert "".join(record["strings"]) == record["value"]
    assert all(len(s) <= 255 for s in record["strings"])
    assert key.get(f"/senders/{sender['id']}/dkim").json == record
    assert key.get(f"/senders/{sender['id']}").json["has_dkim_key"] is True
    assert "sender.dkim_generate" in audit_actions("sender.")


def test_a_sender_in_use_is_not_removed_and_another_project_cannot_touch_it(api, project):
    key = api()
    sender = make_sender(project)
    campaign = make_campaign(project, sender, make_template(project), [make_list(project, 1)])
    refused = key.delete(f"/senders/{sender.id}")
    assert refused.status_code == 422
    assert campaign.name in refused.json["error"]["message"]
    other = api(of=make_project("rival"))
    assert other.get(f"/senders/{sender.id}").status_code == 404
    assert other.patch(f"/senders/{sender.id}", json={"name": "mine"}).status_code == 404
    assert other.delete(f"/senders/{sender.id}").status_code == 404
    assert other.post(f"/senders/{sender.id}/dkim").status_code == 404
    assert api(scopes=["contacts.read"]).get("/senders").status_code == 403
    spare = make_sender(project)
    assert key.delete(f"/senders/{spare.id}").status_code == 204
    assert key.get(f"/senders/{spare.id}").status_code == 404


def test_templates_go_through_review_and_refuse_what_does_not_compile(api, project):
    key = api()
    bad = key.post(
        "/templates", json={"name": "Broken", "subject": "Hi", "html": "<p>\n{% if %}</p>"}
    )
    assert bad.status_code == 422
    problem = bad.json["error"]["problems"][0]
    assert (problem["part"], problem["line"]) == ("html", 2)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Template)) == 0

    created = key.post("/templates", json={"name": "Spring news", "starter": "announcement"})
    assert created.status_code == 201
    template = created.json
    (v1,) = template["versions"]
    assert (v1["number"], v1["status"]) == (1, "draft")
    html = "<p>Hello {{ contact.first_name | default('there') }}</p>"
    saved = key.put(f"/templates/{template['id']}/draft", json={"subject": "Spring", "html": html})
    assert (saved.json["id"], saved.json["subject"]) == (v1["id"], "Spring")
    assert key.post(f"/templates/versions/{v1['id']}/publish", json={}).status_code == 422
    assert key.post(f"/templates/versions/{v1['id']}/submit", json={}).json["status"] == "review"

    # A key cannot review what a key wrote, unless the project allows self-approval.
    refused = key.post(f"/templates/versions/{v1['id']}/publish", json={})
    assert refused.status_code == 422
    assert "a person must review" in refused.json["error"]["message"]
    writer = api(scopes=["templates.write"])
    assert writer.post(f"/templates/versions/{v1['id']}/publish", json={}).status_code == 403
    key.patch("/projects/settings", json={"allow_self_approval": True})
    published = key.post(f"/templates/versions/{v1['id']}/publish", json={"comment": "ok"})
    assert (published.json["status"], published.json["comment"]) == ("published", "ok")

    v2 = key.put(f"/templates/{template['id']}/draft", json={"subject": "Spring 2", "html": html})
    assert v2.json["number"] == 2
    key.post(f"/templates/versions/{v2.json['id']}/submit", json={})
    key.post(f"/templates/versions/{v2.json['id']}/publish", json={})
    restored = key.post(f"/templates/versions/{v1['id']}/restore", json={})
    assert restored.json["status"] == "published"
    shown = key.get(f"/templates/{template['id']}").json
    assert shown["published_version_id"] == v1["id"]
    assert [v["status"] for v in shown["versions"]] == ["published", "archived"]
    assert db.session.get(Template, template["id"]).published_version.status == (
        VersionStatus.PUBLISHED
    )
    assert api(of=make_project("rival")).get(f"/templates/{template['id']}").status_code == 404


def test_the_project_postal_address_name_and_zone_are_set_through_the_api(api, project):
    key = api()
    assert key.get("/projects/current").json["postal_address"] is None
    wrong = key.patch("/projects/current", json={"timezone": "Mars/Olympus", "slug": "x"})
    assert wrong.status_code == 422
    assert set(wrong.json["error"]["fields"]) == {"slug"}
    zone = key.patch("/projects/current", json={"timezone": "Mars/Olympus"})
    assert zone.json["error"]["fields"] == {"timezone": "an IANA zone name, e.g. Europe/Berlin"}
    changed = key.patch(
        "/projects/current",
        json={"postal_address": "Acme Ltd, 1 Main St, Berlin", "timezone": "Europe/Berlin"},
    )
    assert changed.status_code == 200
    db.session.expire_all()
    stored = db.session.get(Project, project.id)
    assert (stored.postal_address, stored.timezone) == (
        "Acme Ltd, 1 Main St, Berlin",
        "Europe/Berlin",
    )
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "project.update")).one()
    assert entry.context["changed"] == ["postal_address", "timezone"]
    assert api(scopes=["contacts.write"]).get("/projects/current").status_code == 403


def test_a_campaign_set_up_through_the_api_alone_is_sent(app, api, project):
    key = api()
    with pipeline_sink(app) as sink:
        key.patch("/projects/current", json={"postal_address": "Acme Ltd, 1 Main St, Berlin"})
        key.patch("/projects/settings", json={"allow_self_approval": True})
        sender = key.post(
            "/senders",
            json={
                "name": "n",
                "from_name": "Acme",
                "from_email": "news@acme.example",
                "bounce_domain": "bounces.acme.example",
            },
        ).json
        assert key.post(f"/senders/{sender['id']}/dkim").status_code == 201
        template = key.post("/templates", json={"name": "News", "starter": "announcement"}).json
        version_id = template["versions"][0]["id"]
        key.post(f"/templates/versions/{version_id}/submit", json={})
        assert key.post(f"/templates/versions/{version_id}/publish", json={}).status_code == 200
        lst = key.post("/lists", json={"name": "Readers"}).json
        ids = [
            key.put("/contacts", json={"email": f"reader{i}@example.org"}).json["id"]
            for i in range(3)
        ]
        key.post(f"/lists/{lst['id']}/members", json={"contact_ids": ids})
        campaign = key.post(
            "/campaigns",
            json={
                "name": "First",
                "sender_id": sender["id"],
                "template_id": template["id"],
                "lists": [lst["id"]],
            },
        ).json
        launched = key.post(f"/campaigns/{campaign['id']}/launch")
        assert launched.status_code == 200, launched.json
        run_pipeline(campaign["id"])
        received = [email.message_from_bytes(m.data) for m in sink.messages]
    assert sorted(m["To"] for m in received) == [f"reader{i}@example.org" for i in range(3)]
    assert all("d=acme.example" in m["DKIM-Signature"] for m in received)


def test_the_openapi_document_describes_the_setup_routes_with_their_scopes(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    scopes = {
        ("/api/v1/senders", "post"): "senders.manage",
        ("/api/v1/senders/{sender_id}/dkim", "post"): "senders.manage",
        ("/api/v1/templates", "post"): "templates.write",
        ("/api/v1/templates/versions/{version_id}/publish", "post"): "templates.publish",
        ("/api/v1/projects/current", "patch"): "projects.manage",
    }
    for (path, method), scope in scopes.items():
        assert paths[path][method]["x-required-scope"] == scope
    sender_in = paths["/api/v1/senders"]["post"]["requestBody"]["content"]["application/json"]
    assert sender_in["schema"]["properties"]["transport_url"]["writeOnly"] is True


def test_a_senders_dns_is_checked_through_the_api(app, api, project, dns_server):
    from tests.support.dns_zones import BOUNCE_MX, OUR_SPF, good_zone

    app.config.update(DNS_RESOLVER=dns_server.address, DNS_TIMEOUT=2.0)
    app.config.update(SPF_INCLUDE=OUR_SPF, BOUNCE_MX_HOST=BOUNCE_MX)
    sender = make_sender(project)
    key = api()
    before = key.get(f"/senders/{sender.id}/domain").json
    assert (before["checked_at"], before["current"]) == (None, False)
    assert {r["purpose"] for r in before["records"]} == {"SPF", "DKIM", "DMARC", "Bounces"}
    dns_server.set({})
    broken = key.post(f"/senders/{sender.id}/domain/check").json
    assert broken["worst"] == "error"
    assert {r["check"] for r in broken["results"] if r["level"] == "error"} >= {"dkim", "spf"}
    dns_server.set(good_zone(sender.dkim_private_key))
    fixed = key.post(f"/senders/{sender.id}/domain/check").json
    assert (fixed["worst"], fixed["current"]) == ("ok", True)
    assert (
        api(of=make_project("rival")).post(f"/senders/{sender.id}/domain/check").status_code == 404
    )


def test_a_senders_bulk_sender_rules_through_the_api(api, project):
    sender = make_sender(project, transport_url="smtps://relay.example.net:465")
    answer = api().get(f"/senders/{sender.id}/compliance")
    assert answer.status_code == 200
    lines = {line["key"]: line for line in answer.json["lines"]}
    assert list(lines) == [
        "spf", "dkim", "dmarc", "one_click", "unsubscribe_honoured", "complaint_rate", "tls",
    ]  # fmt: skip
    assert (lines["tls"]["state"], lines["tls"]["word"], lines["tls"]["action"]) == (
        "green",
        "Good",
        None,
    )
    assert lines["dkim"]["state"] == "amber"
    assert lines["complaint_rate"]["value"].startswith("Not enough mail to measure: 0 delivered")
    assert api(scopes=["contacts.read"]).get(f"/senders/{sender.id}/compliance").status_code == 403
    rival = api(of=make_project("rival"))
    assert rival.get(f"/senders/{sender.id}/compliance").status_code == 404
