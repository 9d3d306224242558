"""Back office: Sending rules, Warm-up and Guardrails pages: validated, all or nothing,
audited, and refused to roles without the permission."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import AuditLog, Campaign, Project, Sender
from tests.admin.conftest import csrf_token, login
from tests.factories import (
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
    make_user,
)

RULES = {
    "quiet_hours_start": "21:00",
    "quiet_hours_end": "08:00",
    "frequency_cap_7d": "2",
    "quota_messages_per_day": "",
    "quota_import_rows_per_day": "50000",
    "tracking": "anonymous",
    "soft_bounce_limit": "3",
    "soft_bounce_window_days": "30",
    "event_retention_days": "400",
}


def audit(action):
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action)).all()


def test_sending_rules_page_saves_every_field_and_shows_the_change(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    page = client.get("/admin/settings/")
    assert page.status_code == 200
    assert b"Default: no cap." in page.data
    assert b"No changes yet" in page.data
    token = csrf_token(client)
    response = client.post(
        "/admin/settings/", data={"csrf_token": token, **RULES, "allow_self_approval": "1"}
    )
    assert response.status_code == 302
    settings = db.session.get(Project, project.id).settings
    assert settings["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert settings["frequency_cap_7d"] == 2
    assert settings["quota_import_rows_per_day"] == 50_000
    assert settings["tracking"] == "anonymous"
    assert settings["allow_self_approval"] is True
    [entry] = audit("project.settings")
    assert entry.actor_user_id is not None
    assert entry.context["changes"]["frequency_cap_7d"] == {"old": None, "new": 2}
    page = client.get("/admin/settings/").data.decode()
    assert 'value="21:00"' in page
    assert "21:00\u201308:00" in page  # the recent-changes table
    # Unticking the checkbox switches self-approval off again.
    client.post("/admin/settings/", data={"csrf_token": token, **RULES})
    assert db.session.get(Project, project.id).settings["allow_self_approval"] is False


def test_a_wrong_field_is_named_and_nothing_is_saved(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    token = csrf_token(client)
    bad = RULES | {"soft_bounce_limit": "500", "quiet_hours_end": ""}
    page = client.post("/admin/settings/", data={"csrf_token": token, **bad})
    assert page.status_code == 200
    text = page.data.decode()
    assert "Nothing was saved" in text
    assert 'data-error-for="soft_bounce_limit"' in text
    assert "from 1 to 50, not 500" in text
    assert 'data-error-for="quiet_hours_end"' in text
    assert 'value="500"' in text  # what was typed stays in the form
    assert db.session.get(Project, project.id).settings.get("frequency_cap_7d") is None
    assert audit("project.settings") == []


def test_bounce_rules_per_reason_on_the_sending_rules_page(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    page = client.get("/admin/settings/").data.decode()
    assert 'id="bounce-rules"' in page
    assert (
        "Blocked by the receiver&#39;s policy" in page or "Blocked by the receiver's policy" in page
    )
    token = csrf_token(client)
    data = {"csrf_token": token, **RULES, "bounce_actions.mailbox_full": "suppress"}
    assert client.post("/admin/settings/", data=data).status_code == 302
    rules = db.session.get(Project, project.id).settings["bounce_actions"]
    assert (rules["mailbox_full"], rules["policy_blocked"]) == ("suppress", "record")
    [entry] = audit("project.settings")
    assert entry.context["changes"]["bounce_actions.mailbox_full"] == {
        "old": "count",
        "new": "suppress",
    }
    assert not [k for k in entry.context["changes"] if k.startswith("bounce_actions.expired")]
    page = client.get("/admin/settings/").data.decode()
    assert "Bounce rule: Mailbox full" in page  # the recent-changes table names the rule
    bad = {"csrf_token": token, **RULES, "bounce_actions.expired": "explode"}
    text = client.post("/admin/settings/", data=bad).data.decode()
    assert 'data-error-for="bounce_actions.expired"' in text
    assert db.session.get(Project, project.id).settings["bounce_actions"]["expired"] == "count"


def test_settings_need_csrf(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    assert client.post("/admin/settings/", data=RULES).status_code == 400
    assert audit("project.settings") == []


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("admin", "/admin/settings/"),
        ("marketer", "/admin/settings/"),
        ("marketer", "/admin/warmup/"),
        ("analyst", "/admin/guardrails/"),
        ("support", "/admin/guardrails/"),
    ],
)
def test_roles_without_the_permission_are_refused(app, client, role, url):
    login(client, make_user(make_project(), role))
    assert client.get(url).status_code == 403


def test_warmup_page_saves_a_plan_and_refuses_a_bad_one(app, client):
    project = make_project()
    sender = make_sender(project)
    login(client, make_user(project, "admin"))
    token = csrf_token(client)
    assert sender.from_email.encode() in client.get("/admin/warmup/").data
    page = client.post(
        f"/admin/warmup/{sender.id}/",
        data={"csrf_token": token, "start": "2026-05-01", "daily_caps": "50, lots"},
    )
    assert page.status_code == 200
    assert b'data-error-for="daily_caps"' in page.data
    assert db.session.get(Sender, sender.id).warmup_plan == {}
    response = client.post(
        f"/admin/warmup/{sender.id}/",
        data={"csrf_token": token, "start": "2026-05-01", "daily_caps": "50, 100, 200"},
    )
    assert response.status_code == 302
    assert db.session.get(Sender, sender.id).warmup_plan["daily_caps"] == [50, 100, 200]
    assert len(audit("sender.warmup")) == 1
    other = make_sender(make_project())
    assert client.get(f"/admin/warmup/{other.id}/").status_code == 404


def test_guardrails_page_for_a_marketer(app, client):
    project = make_project()
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    login(client, make_user(project, "marketer"))
    token = csrf_token(client)
    assert campaign.name.encode() in client.get("/admin/guardrails/").data
    fields = {"canary_minutes": "60", "max_complaint_percent": "", "min_sample": "100"}
    page = client.post(
        f"/admin/guardrails/{campaign.id}/",
        data={"csrf_token": token, **fields, "canary_percent": "75", "max_bounce_percent": "2"},
    )
    assert page.status_code == 200
    assert b'data-error-for="canary_percent"' in page.data
    assert not db.session.get(Campaign, campaign.id).guardrails
    response = client.post(
        f"/admin/guardrails/{campaign.id}/",
        data={"csrf_token": token, **fields, "canary_percent": "10", "max_bounce_percent": "2"},
    )
    assert response.status_code == 302
    assert db.session.get(Campaign, campaign.id).guardrails == {
        "canary_share": 0.1,
        "max_bounce_rate": 0.02,
    }
    [entry] = audit("campaign.guardrails")
    assert set(entry.context["changes"]) == {"canary_percent", "max_bounce_percent"}


def test_the_sender_list_links_each_sender_to_its_warmup(app, client):
    project = make_project()
    sender = make_sender(project, warmup_plan={"start": "2026-01-01", "daily_caps": [10, 20]})
    login(client, make_user(project, "admin"))
    page = client.get("/admin/sender/").data.decode()
    assert f'href="/admin/warmup/{sender.id}/">2 days from 2026-01-01</a>' in page


def test_the_guardrails_page_shows_where_the_canary_stands(app, client):
    from mailapp.delivery.campaigns import pause_campaign
    from tests.factories import TEST_ACTOR
    from tests.support.pipeline import launch, pipeline_sink, run_pipeline

    project = make_project()
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [make_list(project, 40)],
        guardrails={"canary_share": 0.1, "canary_minutes": 45, "min_sample": 20},
    )
    login(client, make_user(project, "marketer"))
    with pipeline_sink(app):
        launch(project, campaign)
        run_pipeline(campaign.id)
    page = client.get(f"/admin/guardrails/{campaign.id}/").data.decode()
    assert "The canary is 20 of 40 recipients" in page
    assert "10 % would be 4, fewer than the minimum sample of 20" in page
    assert "The rest waits for the verdict, due" in page
    pause_campaign(project, campaign.id, actor=TEST_ACTOR)
    stored = db.session.get(Campaign, campaign.id)
    stored.snapshot = {
        **stored.snapshot,
        "canary": {
            **stored.snapshot["canary"],
            "verdict": "paused",
            "decided_at": stored.snapshot["canary"]["sent_at"],
            "note": "auto-paused: hard bounce rate 8.00% above 5.00%",
        },
    }
    db.session.commit()
    page = client.get(f"/admin/guardrails/{campaign.id}/").data.decode()
    assert "Failed" in page
    assert "hard bounce rate 8.00% above 5.00%. The campaign is paused" in page
    assert "the rest of the audience has not been mailed" in page
