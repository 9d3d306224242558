"""The alerts API: the alerts raised, paged; the alert settings checked and audited."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.alerts.raising import raise_alert
from mailapp.extensions import db
from mailapp.models import AlertKind, AuditLog
from tests.factories import TEST_ACTOR, make_project


def headers(project, *scopes):
    _, key = create_api_key(project.id, "t", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def test_alerts_are_listed_newest_first_page_by_page(app, client):
    project, other = make_project("acme"), make_project("rival")
    for queue in ("sending", "imports", "tracking"):
        raise_alert(project, AlertKind.QUEUE_GROWING, f"queue:{queue}", f"{queue} piles up")
    raise_alert(other, AlertKind.QUEUE_GROWING, "queue:sending", "theirs")
    auth = headers(project, "analytics.read")
    first = client.get("/api/v1/alerts?limit=2", headers=auth).json
    assert [a["subject"] for a in first["data"]] == ["queue:tracking", "queue:imports"]
    rest = client.get(f"/api/v1/alerts?limit=2&before={first['next_cursor']}", headers=auth).json
    assert ([a["subject"] for a in rest["data"]], rest["next_cursor"]) == (["queue:sending"], None)
    assert client.get("/api/v1/alerts?limit=0", headers=auth).json["error"]["fields"] == {
        "limit": "at least 1"
    }


def test_alert_settings_are_checked_saved_and_audited(app, client):
    project = make_project("acme")
    auth = headers(project, "alerts.manage")
    shown = client.get("/api/v1/alerts/settings", headers=auth).json
    assert shown["bounce_percent"] == 5
    wrong = client.patch(
        "/api/v1/alerts/settings",
        json={"bounce_percent": 90, "enabled": ["coffee"], "recipients": ["nope"]},
        headers=auth,
    )
    assert set(wrong.json["error"]["fields"]) == {"bounce_percent", "enabled.0", "recipients.0"}
    saved = client.patch(
        "/api/v1/alerts/settings",
        json={"enabled": ["campaign_paused"], "recipients": ["oncall@acme.example"]},
        headers=auth,
    )
    assert (saved.json["enabled"], saved.json["recipients"]) == (
        ["campaign_paused"],
        ["oncall@acme.example"],
    )
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "project.alerts")).one()
    assert "enabled.bounce_rate" in entry.context["changes"]
    assert raise_alert(project, AlertKind.BOUNCE_RATE, "rate", "off now") is None
    marketer = headers(project, "analytics.read", "campaigns.write")
    assert client.patch("/api/v1/alerts/settings", json={}, headers=marketer).status_code == 403
