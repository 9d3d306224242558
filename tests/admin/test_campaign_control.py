"""The campaign control room: pre-flight and launch, pause/resume/cancel, live progress,
resend of unknown deliveries, and who may use them."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.delivery import pipeline
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from tests.admin.conftest import csrf_token
from tests.factories import (
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
    make_user,
)


def setup(contacts=3, sender_fields=None):
    project = make_project()
    sender = make_sender(project, **(sender_fields or {}))
    campaign = make_campaign(
        project, sender, make_template(project), [make_list(project, contacts)]
    )
    return project, campaign


def launch(client, campaign, count=3):
    """Confirm the launch as the review page does: with the audience count it showed."""
    return client.post(
        f"/admin/campaign/launch/{campaign.id}",
        data={"csrf_token": csrf_token(client), "confirm_count": str(count)},
    )


def test_marketer_runs_preflight_launches_and_pauses(as_user, app):
    project, campaign = setup()
    client = as_user(make_user(project, "marketer"))
    page = client.get(f"/admin/campaign/details/?id={campaign.id}")
    assert page.status_code == 200
    assert b"Review and launch" in page.data
    checklist = client.get(f"/admin/campaign/launch/{campaign.id}/checks")
    assert b"3 people after suppression and quarantine" in checklist.data
    assert b'data-level="error"' not in checklist.data
    token = csrf_token(client)
    launched = launch(client, campaign)
    assert launched.status_code == 302
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SCHEDULED
    pipeline.prepare_deliveries(campaign.id)
    progress = client.get(f"/admin/campaign/progress/{campaign.id}").json
    assert progress["progress"]["queued"] == 3
    assert progress["status"] == "scheduled"
    client.post(
        f"/admin/campaign/control/{campaign.id}", data={"csrf_token": token, "verb": "pause"}
    )
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.PAUSED
    details = client.get(f"/admin/campaign/details/?id={campaign.id}")
    assert b'value="resume"' in details.data
    assert b'data-count="queued">3<' in details.data


def test_preflight_blocks_a_sender_without_dkim(as_user, app):
    project, campaign = setup(sender_fields={"dkim_private_key": None})
    client = as_user(make_user(project, "marketer"))
    checklist = client.get(f"/admin/campaign/launch/{campaign.id}/checks")
    assert b"the sender has no DKIM key" in checklist.data
    assert b'id="launch-button"' not in checklist.data
    launch(client, campaign)
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DRAFT


def test_unknown_rows_are_resent_only_on_purpose(as_user, app):
    project, campaign = setup()
    client = as_user(make_user(project, "marketer"))
    launch(client, campaign)
    pipeline.prepare_deliveries(campaign.id)
    db.session.execute(sa.update(Delivery).values(status=DeliveryStatus.UNKNOWN))
    db.session.commit()
    details = client.get(f"/admin/campaign/details/?id={campaign.id}")
    assert b"Resend 3 unknown" in details.data
    client.post(
        f"/admin/campaign/control/{campaign.id}",
        data={"csrf_token": csrf_token(client), "verb": "resend_unknown"},
    )
    statuses = set(db.session.scalars(sa.select(Delivery.status)).all())
    assert statuses == {DeliveryStatus.QUEUED}


def test_analyst_cannot_launch(as_user, app):
    project, campaign = setup()
    client = as_user(make_user(project, "analyst"))
    assert client.get(f"/admin/campaign/launch/{campaign.id}").status_code == 403
    assert client.get(f"/admin/campaign/launch/{campaign.id}/checks").status_code == 403


def test_other_projects_campaigns_are_404(as_user, app):
    project, _ = setup()
    _, foreign = setup()
    marketer = as_user(make_user(project, "marketer"))
    assert marketer.get(f"/admin/campaign/launch/{foreign.id}").status_code == 404
    assert marketer.get(f"/admin/campaign/launch/{foreign.id}/checks").status_code == 404
    assert marketer.get(f"/admin/campaign/progress/{foreign.id}").status_code == 404


def test_emergency_stop_pauses_running_campaigns_and_is_audited(as_user, app):
    from mailapp.models import AuditLog, Project

    project, campaign = setup()
    client = as_user(make_user(project, "marketer"))
    launch(client, campaign)
    page = client.get("/admin/sending/")
    assert b"Sending is allowed" in page.data
    assert b"(no daily quota)" in page.data
    client.post("/admin/sending/stop", data={"csrf_token": csrf_token(client), "verb": "stop"})
    db.session.expire_all()
    assert db.session.get(Project, project.id).sending_stopped_at is not None
    stored = db.session.get(Campaign, campaign.id)
    assert (stored.status, stored.paused_reason) == (CampaignStatus.PAUSED, "emergency stop")
    assert pipeline.plan_dispatch().batches == []
    assert db.session.scalar(
        sa.select(AuditLog.context).where(AuditLog.action == "project.stop_sending")
    ) == {"paused": [campaign.id]}
    client.post("/admin/sending/stop", data={"csrf_token": csrf_token(client), "verb": "allow"})
    db.session.expire_all()
    assert db.session.get(Project, project.id).sending_stopped_at is None
    assert b"All sending is stopped" not in client.get("/admin/sending/").data
