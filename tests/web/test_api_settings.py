"""Settings API: the same validation and audit as the pages, scoped to the key's project."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.models import AuditLog, Campaign, Project, Sender
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)


def bearer(project, *scopes):
    _, key = create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def test_patch_project_settings_validates_all_or_nothing(app, client):
    project = make_project()
    headers = bearer(project, "projects.manage")
    shown = client.get("/api/v1/projects/settings", headers=headers).get_json()
    assert shown["soft_bounce_limit"] == 3
    bad = client.patch(
        "/api/v1/projects/settings",
        json={"frequency_cap_7d": 2, "tracking": "sometimes", "quiet_hours": {"start": "25:00"}},
        headers=headers,
    )
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert set(fields) == {"tracking", "quiet_hours.start", "quiet_hours.end"}
    assert db.session.get(Project, project.id).settings.get("frequency_cap_7d") is None
    good = client.patch(
        "/api/v1/projects/settings",
        json={"frequency_cap_7d": 2, "quiet_hours": {"start": "22:00", "end": "07:00"}},
        headers=headers,
    )
    assert good.status_code == 200
    assert good.get_json()["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "project.settings"))
    assert entry.actor_api_key_id is not None
    assert client.patch("/api/v1/projects/settings", data="x", headers=headers).status_code == 400


def test_settings_scopes_are_enforced(app, client):
    project = make_project()
    headers = bearer(project, "campaigns.write")
    response = client.patch("/api/v1/projects/settings", json={"tracking": "off"}, headers=headers)
    assert response.status_code == 403
    assert db.session.get(Project, project.id).settings["tracking"] == "full"


def test_warmup_and_guardrails_routes(app, client):
    project, other = make_project(), make_project()
    sender = make_sender(project)
    headers = bearer(project, "senders.manage", "campaigns.write")
    response = client.put(
        f"/api/v1/senders/{sender.id}/warmup",
        json={"start": "2026-06-01", "daily_caps": [100, 200]},
        headers=headers,
    )
    assert response.status_code == 200
    assert db.session.get(Sender, sender.id).warmup_plan["daily_caps"] == [100, 200]
    bad = client.put(
        f"/api/v1/senders/{sender.id}/warmup", json={"daily_caps": [100, -1]}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {"daily_caps.1": "at least 1"}
    undated = client.put(
        f"/api/v1/senders/{sender.id}/warmup", json={"daily_caps": [100]}, headers=headers
    )
    assert undated.status_code == 422
    assert set(undated.get_json()["error"]["fields"]) == {"start"}
    foreign = make_sender(other)
    assert client.get(f"/api/v1/senders/{foreign.id}/warmup", headers=headers).status_code == 404
    put = client.put(
        f"/api/v1/senders/{foreign.id}/warmup", json={"daily_caps": [50]}, headers=headers
    )
    assert put.status_code == 404
    assert not db.session.get(Sender, foreign.id).warmup_plan  # another project's: untouched
    campaign = make_campaign(project, sender, make_template(project), [make_list(project, 1)])
    url = f"/api/v1/campaigns/{campaign.id}/guardrails"
    bad = client.patch(url, json={"max_bounce_percent": 90}, headers=headers)
    assert bad.status_code == 422
    good = client.patch(url, json={"max_bounce_percent": 3, "min_sample": 200}, headers=headers)
    assert good.get_json()["max_bounce_percent"] == 3
    assert db.session.get(Campaign, campaign.id).guardrails == {
        "max_bounce_rate": 0.03,
        "min_sample": 200,
    }


def test_settings_routes_are_documented(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert paths["/api/v1/projects/settings"]["patch"]["x-required-scope"] == "projects.manage"
    assert "/api/v1/senders/{sender_id}/warmup" in paths
    assert "/api/v1/campaigns/{campaign_id}/guardrails" in paths
