"""Editing, copying and deleting draft campaigns through the API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.models import AuditLog, Campaign
from tests.factories import TEST_ACTOR, make_list, make_project, make_sender, make_template


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def call(client, project):
    _, key = create_api_key(
        project.id, "t", ["campaigns.write", "campaigns.send", "contacts.write"], actor=TEST_ACTOR
    )

    def call(method, path, **kwargs):
        headers = {"Authorization": f"Bearer {key}"}
        return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

    return call


def draft(call, project):
    sender, template = make_sender(project), make_template(project)
    body = {"name": "Spring", "sender_id": sender.id, "template_id": template.id}
    created = call("post", "/campaigns", json={**body, "lists": [make_list(project, 2).id]})
    assert created.status_code == 201
    return created.json


def test_a_draft_is_changed_key_by_key_and_the_change_is_audited(call, project):
    campaign = draft(call, project)
    other_list = make_list(project, 1)
    changed = call(
        "patch",
        f"/campaigns/{campaign['id']}",
        json={"name": "Spring sale", "lists": [other_list.id], "track_opens": False},
    )
    assert changed.status_code == 200
    body = changed.json
    assert (body["name"], body["lists"], body["track_opens"]) == (
        "Spring sale",
        [other_list.id],
        False,
    )
    assert (body["sender_id"], body["template_id"]) == (
        campaign["sender_id"],
        campaign["template_id"],
    )
    call("patch", f"/campaigns/{campaign['id']}", json={"include_quarantined": True})
    stored = db.session.get(Campaign, campaign["id"])
    assert stored.audience == {"lists": [other_list.id], "include_quarantined": True}
    entry = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "campaign.update").order_by(AuditLog.id)
    ).first()
    assert entry.context["changed"] == ["audience", "name", "track_opens"]

    foreign = make_list(make_project("rival"), 1)
    refused = call("patch", f"/campaigns/{campaign['id']}", json={"lists": [foreign.id]})
    assert refused.status_code == 422
    assert "not in this project" in refused.json["error"]["message"]
    wrong = call("patch", f"/campaigns/{campaign['id']}", json={"local_send_time": "25:00", "x": 1})
    assert set(wrong.json["error"]["fields"]) == {"local_send_time", "x"}
    db.session.expire_all()
    assert db.session.get(Campaign, campaign["id"]).audience["lists"] == [other_list.id]


def test_only_drafts_are_changed_or_deleted_and_any_campaign_can_be_copied(call, project):
    campaign = draft(call, project)
    assert call("post", f"/campaigns/{campaign['id']}/launch").status_code == 200
    assert call("patch", f"/campaigns/{campaign['id']}", json={"name": "x"}).status_code == 422
    assert call("delete", f"/campaigns/{campaign['id']}").status_code == 422
    copy = call("post", f"/campaigns/{campaign['id']}/duplicate")
    assert copy.status_code == 201
    assert (copy.json["name"], copy.json["status"]) == ("Copy of Spring", "draft")
    assert copy.json["lists"] == campaign["lists"]
    assert call("delete", f"/campaigns/{copy.json['id']}").status_code == 204
    assert call("get", f"/campaigns/{copy.json['id']}").status_code == 404
    assert db.session.get(Campaign, campaign["id"]) is not None
    actions = db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.action.like("campaign.%")).order_by(AuditLog.id)
    ).all()
    assert actions[-2:] == ["campaign.duplicate", "campaign.delete"]


def test_another_projects_key_cannot_touch_a_draft(client, call, project):
    campaign = draft(call, project)
    rival = make_project("rival")
    _, key = create_api_key(rival.id, "t", ["campaigns.write"], actor=TEST_ACTOR)
    headers = {"Authorization": f"Bearer {key}"}
    path = f"/api/v1/campaigns/{campaign['id']}"
    assert client.patch(path, json={"name": "x"}, headers=headers).status_code == 404
    assert client.delete(path, headers=headers).status_code == 404
    assert client.post(f"{path}/duplicate", headers=headers).status_code == 404
