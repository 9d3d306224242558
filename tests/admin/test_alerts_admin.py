"""Back office: the Alerts page lists the project's recent alerts with the state of their
email and webhook, and saves the alert settings for owners and admins only (audited)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.alerts.raising import raise_alert
from mailapp.alerts.settings import alert_settings
from mailapp.extensions import db
from mailapp.models import Alert, AlertKind, AlertMailState, AuditLog, Project
from tests.admin.conftest import csrf_token, login
from tests.factories import make_project, make_user

FORM = {
    "enabled": ["campaign_paused", "bounce_rate"],
    "bounce_percent": "2.5",
    "complaint_percent": "0.2",
    "queue_minutes": "30",
    "webhook_failures": "3",
    "recipients": "oncall@example.net\nOps@Example.net",
}


def test_the_page_lists_this_projects_alerts_with_their_states(app, client):
    project, other = make_project(), make_project()
    alert = raise_alert(
        project, AlertKind.QUEUE_GROWING, "queue:sending", "Work of the kind sending piles up."
    )
    db.session.get(Alert, alert.id).mail_state = AlertMailState.SENT
    db.session.commit()
    raise_alert(other, AlertKind.WORKER_SILENT, "workers", "Another project's alert.")
    login(client, make_user(project, "analyst"))
    page = client.get("/admin/alerts/")
    assert page.status_code == 200
    html = page.data.decode()
    assert "Work of the kind sending piles up." in html
    assert "Work is piling up (a queue keeps growing)" in html
    assert 'data-mail-state="sent">Sent' in html
    assert "No webhook subscribed" in html
    assert "Another project" not in html
    assert "Only the project's owners and admins can change these settings." in html


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_save_the_settings_audited(app, client, role):
    project = make_project()
    login(client, make_user(project, role))
    page = client.get("/admin/alerts/").data.decode()
    assert "Only the project" not in page
    response = client.post("/admin/alerts/", data={"csrf_token": csrf_token(client), **FORM})
    assert response.status_code == 302
    stored = alert_settings(db.session.get(Project, project.id))
    assert stored["enabled"] == ["bounce_rate", "campaign_paused"]
    assert (stored["bounce_percent"], stored["queue_minutes"]) == (2.5, 30)
    assert stored["recipients"] == ["oncall@example.net", "ops@example.net"]
    [entry] = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "project.alerts"))
    changes = entry.context["changes"]
    assert changes["queue_minutes"] == {"old": 15, "new": 30}
    # Each alert turned off is named on its own; those left on are not mentioned.
    assert changes["enabled.queue_growing"] == {"old": True, "new": False}
    assert "enabled.bounce_rate" not in changes
    page = client.get("/admin/alerts/").data.decode()
    assert "Work piling up for (minutes): 15 → <strong>30</strong>" in page
    assert 'id="enabled-queue_growing" name="enabled" value="queue_growing">' in page


def test_a_wrong_field_saves_nothing_and_says_why(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    data = {**FORM, "bounce_percent": "80", "recipients": "not an address"}
    page = client.post("/admin/alerts/", data={"csrf_token": csrf_token(client), **data})
    assert page.status_code == 200
    html = page.data.decode()
    assert "Nothing was saved" in html
    assert "Hard bounces above (%): a number from 0.1 to 50, not 80" in html
    assert "not an email address: &#39;not&#39;" in html
    assert alert_settings(db.session.get(Project, project.id))["bounce_percent"] == 5.0


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_a_marketer_or_analyst_cannot_change_them(app, client, role):
    project = make_project()
    login(client, make_user(project, role))
    page = client.get("/admin/alerts/")
    assert page.status_code == 200
    assert "<fieldset disabled>" in page.data.decode()
    response = client.post("/admin/alerts/", data={"csrf_token": csrf_token(client), **FORM})
    assert response.status_code == 403
    assert alert_settings(db.session.get(Project, project.id))["queue_minutes"] == 15
    refusal = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "admin.forbidden")
    ).all()
    assert refusal[-1].context["permission"] == "alerts.manage"


def test_support_does_not_see_the_page_and_a_post_needs_csrf(app, client):
    project = make_project()
    login(client, make_user(project, "support"))
    assert client.get("/admin/alerts/").status_code == 403
    login(client, make_user(project, "owner"))
    assert client.post("/admin/alerts/", data=FORM).status_code == 400
