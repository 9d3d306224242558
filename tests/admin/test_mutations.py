"""Back-office edits go through services: one audit entry each, secrets never shown."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.apikeys import authenticate_api_key
from mailapp.extensions import db
from mailapp.models import (
    ApiKey,
    AuditLog,
    Campaign,
    CampaignStatus,
    Contact,
    Membership,
    Sender,
    Suppression,
)
from tests.admin.conftest import csrf_token, login
from tests.factories import make_contact, make_project, make_user
from tests.support.audit import one_audit_entry


def owner_client(client, role="owner"):
    project = make_project("acme")
    user = make_user(project, role)
    login(client, user)
    return project, user, csrf_token(client)


def test_create_and_edit_a_contact_write_one_entry_each_with_the_user(app, client):
    project, user, token = owner_client(client)
    with one_audit_entry("contact.create") as created:
        response = client.post(
            "/admin/contact/new/",
            data={"csrf_token": token, "email": " Ada@Example.ORG ", "first_name": "Ada"},
        )
    assert response.status_code == 302
    contact = db.session.scalar(sa.select(Contact))
    assert (contact.email, contact.email_raw, contact.project_id) == (
        "ada@example.org",
        "Ada@Example.ORG",
        project.id,
    )
    assert created[0].actor_user_id == user.id
    assert created[0].object_id == str(contact.id)
    with one_audit_entry("contact.update") as updated:
        client.post(
            "/admin/contact/edit/",
            query_string={"id": contact.id},
            data={"csrf_token": token, "email": "Ada@example.org", "first_name": "Augusta"},
        )
    assert updated[0].context == {"changed": ["first_name"]}
    with one_audit_entry("contact.delete"):
        client.post("/admin/contact/delete/", data={"csrf_token": token, "id": contact.id})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_invalid_input_is_shown_next_to_the_field(app, client):
    _, _, token = owner_client(client)
    response = client.post(
        "/admin/contact/new/", data={"csrf_token": token, "email": "not an address"}
    )
    assert response.status_code == 200
    assert b"Invalid email address" in response.data
    assert b"is-invalid" in response.data


def test_forged_or_missing_csrf_tokens_are_refused_and_change_nothing(app, client):
    project, _, _ = owner_client(client)
    contact = make_contact(project)
    for token in (None, "forged-token"):
        data = {"id": contact.id, **({"csrf_token": token} if token else {})}
        assert client.post("/admin/contact/delete/", data=data).status_code == 400
        response = client.post(
            "/admin/contact/action/", data={**data, "action": "delete", "rowid": contact.id}
        )
        assert response.status_code == 400
    assert db.session.get(Contact, contact.id) is not None


def test_sender_secrets_are_write_only(app, client):
    project, _, token = owner_client(client)
    sender = Sender(
        project_id=project.id,
        name="News",
        from_name="News",
        from_email="news@acme.example",
        domain="acme.example",
        dkim_private_key="-----BEGIN PRIVATE KEY-----SECRETKEY",
        transport_url="smtp://user:hunter2hunter2@relay.example:587",
    )
    db.session.add(sender)
    db.session.commit()
    for page in ("details", "edit"):
        html = client.get(f"/admin/sender/{page}/", query_string={"id": sender.id}).data
        assert b"SECRETKEY" not in html
        assert b"hunter2" not in html
    assert b"hunter2" not in client.get("/admin/sender/").data
    with one_audit_entry("sender.update") as entry:
        client.post(
            "/admin/sender/edit/",
            query_string={"id": sender.id},
            data={
                "csrf_token": token,
                "name": "Renamed",
                "from_name": "News",
                "from_email": "news@acme.example",
                "domain": "acme.example",
                "dkim_private_key": "",
                "transport_url": "",
            },
        )
    assert entry[0].context == {"changed": ["name"]}
    db.session.expire_all()
    assert db.session.get(Sender, sender.id).transport_url.endswith("relay.example:587")


def test_suppression_added_and_lifted_through_its_service(app, client):
    _, user, token = owner_client(client)
    with one_audit_entry("suppression.add") as entry:
        client.post(
            "/admin/suppression/new/", data={"csrf_token": token, "email": "Gone@Example.org"}
        )
    assert entry[0].actor_user_id == user.id
    row = db.session.scalar(sa.select(Suppression))
    assert (row.email, row.reason.value, row.created_by_id) == (
        "gone@example.org",
        "manual",
        user.id,
    )
    with one_audit_entry("suppression.remove"):
        client.post("/admin/suppression/delete/", data={"csrf_token": token, "id": row.id})


def test_only_draft_campaigns_are_edited(app, client):
    project, _, token = owner_client(client)
    campaign = Campaign(project_id=project.id, name="Sent", status=CampaignStatus.SENT)
    db.session.add(campaign)
    db.session.commit()
    response = client.post(
        "/admin/campaign/edit/",
        query_string={"id": campaign.id},
        data={"csrf_token": token, "name": "Changed", "schedule_mode": "now"},
        follow_redirects=True,
    )
    assert b"Only draft campaigns can be edited" in response.data
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).name == "Sent"


def test_api_key_is_shown_once_and_revoked_from_the_list(app, client):
    _, user, token = owner_client(client)
    with one_audit_entry("api_key.create"):
        response = client.post(
            "/admin/apikey/new/",
            data={
                "csrf_token": token,
                "name": "crm",
                "scopes": ["contacts.read", "contacts.write"],
                "expires_in_days": "30",
            },
        )
    assert response.status_code == 200
    key = response.data.decode().split('id="secret-value">', 1)[1].split("<", 1)[0]
    api_key = authenticate_api_key(key).api_key
    assert api_key.created_by_id == user.id
    assert key.encode() not in client.get("/admin/apikey/").data
    with one_audit_entry("api_key.revoke"):
        client.post(
            "/admin/apikey/action/",
            data={"csrf_token": token, "action": "revoke", "rowid": str(api_key.id)},
        )
    assert authenticate_api_key(key).problem.value == "revoked"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 1


def test_an_admin_cannot_create_a_key_with_scopes_beyond_their_role(app, client):
    _, _, token = owner_client(client, role="admin")
    response = client.post(
        "/admin/apikey/new/",
        data={"csrf_token": token, "name": "x", "scopes": ["projects.manage"]},
        follow_redirects=True,
    )
    assert b"you cannot grant scope(s) you do not hold: projects.manage" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0


def test_invite_a_user_shows_the_password_once_then_change_their_role(app, client):
    project, _, token = owner_client(client)
    response = client.post(
        "/admin/membership/new/",
        data={"csrf_token": token, "email": "new@example.com", "role": "support"},
    )
    assert b"secret-value" in response.data
    membership = db.session.scalar(
        sa.select(Membership).where(
            Membership.role == "support", Membership.project_id == project.id
        )
    )
    with one_audit_entry("membership.change_role"):
        client.post(
            "/admin/membership/edit/",
            query_string={"id": membership.id},
            data={"csrf_token": token, "role": "marketer"},
        )
    db.session.expire_all()
    assert db.session.get(Membership, membership.id).role.value == "marketer"


def test_audit_entries_cannot_be_edited_or_deleted_from_the_back_office(app, client):
    project, _, token = owner_client(client)
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.project_id == project.id))
    assert client.get("/admin/auditlog/edit/", query_string={"id": entry.id}).status_code == 404
    assert (
        client.post(
            "/admin/auditlog/delete/", data={"csrf_token": token, "id": entry.id}
        ).status_code
        == 404
    )
    client.post(
        "/admin/auditlog/action/",
        data={"csrf_token": token, "action": "delete", "rowid": str(entry.id)},
    )
    db.session.expire_all()
    assert db.session.get(AuditLog, entry.id) is not None
    listing = client.get("/admin/auditlog/").data
    assert b"project.create" in listing
    assert b'value="delete"' not in listing


def test_exports_neutralize_spreadsheet_formulas(app, client):
    project, _, _ = owner_client(client)
    make_contact(project, "x@example.org", first_name="=HYPERLINK(1)")
    export = client.get("/admin/contact/export/csv/").data.decode()
    assert "'=HYPERLINK(1)" in export


CREATE_FORMS = {
    "list": {"name": "Newsletter", "opt_in": "double"},
    "segment": {
        "name": "Berlin",
        "rule": '{"all": [{"field": "attributes.city", "op": "eq", "value": "Berlin"}]}',
    },
    "template": {"name": "Welcome", "kind": "transactional"},
    # Campaigns are created through their steps: tests/admin/test_campaign_flow.py.
    "sender": {
        "name": "News",
        "from_name": "News",
        "from_email": "news@acme.example",
        "domain": "acme.example",
        "transport_url": "smtp://u:secretpass@relay.example:587",
    },
    "webhookendpoint": {
        "url": "https://hooks.example/in",
        "event_types": "bounce_hard, complaint",
        "active": "y",
        "secret": "a-very-long-signing-secret",
    },
}


@pytest.mark.parametrize("endpoint", sorted(CREATE_FORMS))
def test_each_view_creates_through_its_form_with_one_audit_entry(app, client, endpoint):
    project, user, token = owner_client(client)
    view = next(v for v in app.extensions["mailapp_admin"]._views if v.endpoint == endpoint)
    with one_audit_entry(f"{endpoint.replace('webhookendpoint', 'webhook_endpoint')}.create") as e:
        response = client.post(
            f"/admin/{endpoint}/new/", data={"csrf_token": token, **CREATE_FORMS[endpoint]}
        )
        assert response.status_code == 302, response.data[-3000:]
    row = db.session.get(view.model, int(e[0].object_id))
    assert row.project_id == project.id
    assert e[0].actor_user_id == user.id
    assert "secretpass" not in str(e[0].context)
    assert "a-very-long-signing-secret" not in str(e[0].context)
    if endpoint == "webhookendpoint":
        assert row.event_types == ["bounce_hard", "complaint"]
        assert row.secret == "a-very-long-signing-secret"
    if endpoint == "segment":
        assert row.rule["all"][0]["field"] == "attributes.city"


def test_a_list_or_segment_an_open_campaign_uses_is_not_deleted_from_the_back_office(app, client):
    from mailapp.audience.segments.store import save_segment
    from mailapp.models import List, Segment
    from tests.factories import TEST_ACTOR, make_campaign, make_list, make_sender, make_template

    project, _, token = owner_client(client)
    lst = make_list(project, 2)
    rule = {"field": "attributes.city", "op": "eq", "value": "Berlin"}
    segment = save_segment(project.id, "Berliners", rule, actor=TEST_ACTOR)
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [lst], name="Spring"
    )
    campaign.audience = {**campaign.audience, "segment_id": segment.id}
    db.session.commit()
    for view, row in (("list", lst), ("segment", segment)):
        page = client.post(
            f"/admin/{view}/delete/",
            data={"csrf_token": token, "id": row.id},
            follow_redirects=True,
        )
        assert "Spring" in page.get_data(as_text=True)
    assert db.session.get(List, lst.id) is not None
    assert db.session.get(Segment, segment.id) is not None
    spare = make_list(project, 1)
    with one_audit_entry("list.delete"):
        client.post("/admin/list/delete/", data={"csrf_token": token, "id": spare.id})
    assert db.session.get(List, spare.id) is None
