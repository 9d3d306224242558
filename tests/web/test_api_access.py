"""API keys and members through the API: a key grants no more than it holds."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.apikeys import KeyProblem, authenticate_api_key, create_api_key
from mailapp.access.permissions import Permission
from mailapp.access.users import verify_password
from mailapp.extensions import db
from mailapp.models import ApiKey, AuditLog, Membership
from tests.factories import TEST_ACTOR, make_project, make_user

ALL_SCOPES = [p.value for p in Permission]


@pytest.fixture
def project(app):
    return make_project("acme")


def caller(client, project, *scopes):
    _, key = create_api_key(project.id, "admin", list(scopes), actor=TEST_ACTOR)
    headers = {"Authorization": f"Bearer {key}"}

    def call(method, path, **kwargs):
        return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

    return call


def test_a_key_makes_keys_with_its_own_scopes_only_and_revokes_them(client, project):
    call = caller(client, project, "apikeys.manage", "contacts.read", "contacts.write")
    made = call("post", "/api-keys", json={"name": "crm sync", "scopes": ["contacts.read"]})
    assert made.status_code == 201
    new_key = made.json["key"]
    assert authenticate_api_key(new_key).api_key.scopes == ["contacts.read"]
    listed = call("get", "/api-keys").json
    assert all("key" not in k for k in listed)
    assert new_key not in str(listed)
    assert {k["name"] for k in listed} == {"admin", "crm sync"}

    beyond = call("post", "/api-keys", json={"name": "x", "scopes": ["campaigns.send"]})
    assert beyond.status_code == 422
    assert "campaigns.send" in beyond.json["error"]["message"]
    unknown = call("post", "/api-keys", json={"name": "x", "scopes": ["root"]})
    assert set(unknown.json["error"]["fields"]) == {"scopes.0"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 2

    revoked = call("delete", f"/api-keys/{made.json['id']}")
    assert revoked.json["revoked_at"] is not None
    assert authenticate_api_key(new_key).problem is KeyProblem.REVOKED
    other = caller(client, make_project("rival"), "apikeys.manage")
    assert other("delete", f"/api-keys/{made.json['id']}").status_code == 404
    assert caller(client, project, "contacts.read")("get", "/api-keys").status_code == 403


def test_members_are_invited_given_roles_and_removed_within_the_keys_reach(client, project):
    owner = make_user(project, "owner")
    call = caller(client, project, "users.manage", "contacts.read", "analytics.read")
    invited = call("post", "/members", json={"email": "Ana@Example.org", "role": "analyst"})
    assert invited.status_code == 201
    assert (invited.json["email"], invited.json["role"]) == ("ana@example.org", "analyst")
    membership = db.session.get(Membership, invited.json["id"])
    assert verify_password(membership.user, invited.json["password"])
    assert "password" not in call("get", "/members").json[0]

    # An analyst's permissions are within the key's; a marketer's or an owner's are not.
    too_much = call("post", "/members", json={"email": "m@example.org", "role": "marketer"})
    assert too_much.status_code == 422
    assert "marketer" in too_much.json["error"]["message"]
    promote = call("patch", f"/members/{invited.json['id']}", json={"role": "owner"})
    assert promote.status_code == 422
    owners = [m for m in call("get", "/members").json if m["role"] == "owner"]
    assert [m["email"] for m in owners] == [owner.email]
    assert call("delete", f"/members/{owners[0]['id']}").status_code == 422
    assert call("patch", f"/members/{invited.json['id']}", json={"role": "chief"}).json["error"][
        "fields"
    ] == {"role": "one of owner, admin, marketer, analyst, support"}

    everything = caller(client, project, *ALL_SCOPES)
    assert (
        everything("patch", f"/members/{invited.json['id']}", json={"role": "support"}).json["role"]
        == "support"
    )
    assert everything("delete", f"/members/{invited.json['id']}").status_code == 204
    assert db.session.get(Membership, invited.json["id"]) is None
    actions = db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.action.like("membership.%")).order_by(AuditLog.id)
    ).all()
    assert actions[-3:] == ["membership.create", "membership.change_role", "membership.delete"]
    rival = caller(client, make_project("rival"), *ALL_SCOPES)
    assert rival("delete", f"/members/{owners[0]['id']}").status_code == 404
