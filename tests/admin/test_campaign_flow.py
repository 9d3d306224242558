"""The campaign steps: audience -> content -> schedule, each validated at save, then the
review that restates everything and a launch that needs the confirmation."""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa

from mailapp.delivery import pipeline
from mailapp.extensions import db
from mailapp.models import AuditLog, Campaign, CampaignStatus, ScheduleMode
from tests.admin.conftest import csrf_token
from tests.factories import (
    make_campaign,
    make_list,
    make_sender,
    make_template,
)
from tests.support.audit import one_audit_entry
from tests.support.campaigns import marketer, next_tuesday_morning, shown, two_person_draft


def test_a_campaign_is_built_step_by_step_and_reviewed(as_user, app):
    project, client = marketer(as_user)
    newsletter = make_list(project, 3)
    sender = make_sender(project, name="Newsroom")
    template = make_template(project, subject="News for {{ contact.first_name }}")
    with one_audit_entry("campaign.create"):
        created = client.post(
            "/admin/campaign/new/",
            data={"csrf_token": csrf_token(client), "name": "December", "lists": [newsletter.id]},
        )
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == "December"))
    assert created.headers["Location"].endswith(f"/admin/campaign/{campaign.id}/content")
    assert campaign.audience["lists"] == [newsletter.id]
    assert campaign.created_by_id is not None

    with one_audit_entry("campaign.update"):
        client.post(
            f"/admin/campaign/{campaign.id}/content",
            data={
                "csrf_token": csrf_token(client),
                "template_id": template.id,
                "sender_id": sender.id,
                "track_opens": "y",
                "utm_source": " newsletter ",
            },
        )
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert (campaign.template_id, campaign.sender_id) == (template.id, sender.id)
    assert (campaign.track_opens, campaign.track_clicks) == (True, False)
    assert campaign.utm == {"utm_source": "newsletter"}

    send_at = next_tuesday_morning()
    saved = client.post(
        f"/admin/campaign/{campaign.id}/schedule",
        data={
            "csrf_token": csrf_token(client),
            "schedule_mode": "at",
            "send_at": send_at.strftime("%Y-%m-%dT%H:%M"),
            "window_days": ["0", "1", "2", "3", "4"],
            "window_start": "09:00",
            "window_end": "17:00",
        },
    )
    assert saved.headers["Location"].endswith(f"/admin/campaign/launch/{campaign.id}")
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    # Read in the project's zone, stored in UTC.
    assert campaign.send_at == send_at.astimezone(UTC)
    assert campaign.send_window["timezone"] == "Europe/Berlin"

    page = client.get(f"/admin/campaign/launch/{campaign.id}").data.decode()
    assert "News for N0" in page  # rendered for the audience's first contact
    assert 'id="review-live"' in page  # the audience's figures arrive after the page
    review = page + client.get(f"/admin/campaign/launch/{campaign.id}/checks").data.decode()
    assert "Newsroom — Example News &lt;news@example.com&gt;" in review
    assert 'id="review-count">3<' in review
    assert f"Send to 3 people at {shown(send_at)}" in review
    assert "First and last message about" in review or "First message about" in review
    assert "Why they receive it" in review
    assert "Signature (DKIM)" in review
    for code_name in (">why_line<", ">bounce_domain<", "unsubscribe_link:"):
        assert code_name not in review
    assert f"/admin/campaign/{campaign.id}/preview" in review
    frame = client.get(f"/admin/campaign/{campaign.id}/preview")
    assert "sandbox" in frame.headers["Content-Security-Policy"]
    assert b"Hello N0" in frame.data


def test_schedule_refuses_free_text_naming_the_field(as_user, app):
    project, client = marketer(as_user)
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    for data, message in (
        ({"schedule_mode": "local_time", "local_send_time": "9am"}, "Local send time: use HH:MM"),
        ({"schedule_mode": "at", "send_at": "9am"}, "Send at: choose a date and time"),
        ({"schedule_mode": "at", "send_at": "2001-01-01T09:00"}, "Send at: this time has passed"),
        ({"schedule_mode": "at", "send_at": ""}, "Send at: choose a date and time"),
        ({"schedule_mode": "at", "send_at": "9999-12-31T23:59"}, "within the next two years"),
        (
            {"schedule_mode": "now", "window_days": ["0"], "window_start": "9h"},
            "Send window: from: use HH:MM",
        ),
    ):
        response = client.post(
            f"/admin/campaign/{campaign.id}/schedule",
            data={"csrf_token": csrf_token(client), **data},
        )
        assert response.status_code == 400, data
        assert message in response.data.decode(), data
    db.session.expire_all()
    stored = db.session.get(Campaign, campaign.id)
    assert (stored.schedule_mode, stored.local_send_time, stored.send_window) == (
        ScheduleMode.NOW,
        None,
        None,
    )
    ok = client.post(
        f"/admin/campaign/{campaign.id}/schedule",
        data={
            "csrf_token": csrf_token(client),
            "schedule_mode": "local_time",
            "local_send_time": "09:30",
        },
    )
    assert ok.status_code == 302
    page = client.get(f"/admin/campaign/{campaign.id}/schedule")
    assert b'value="09:30"' in page.data


def test_an_empty_campaign_is_told_what_is_missing(as_user, app):
    project, client = marketer(as_user)
    campaign = Campaign(project_id=project.id, name="Empty", audience={})
    db.session.add(campaign)
    db.session.commit()
    review = client.get(f"/admin/campaign/launch/{campaign.id}").data.decode()
    review += client.get(f"/admin/campaign/launch/{campaign.id}/checks").data.decode()
    assert "Choose a template" in review
    assert "Choose a sender" in review
    assert "Choose who receives it" in review
    assert "no published version" not in review
    assert 'id="launch-button"' not in review


def test_audience_step_needs_somebody_and_counts_in_sql(as_user, app):
    project, client = marketer(as_user)
    lst = make_list(project, 4)
    response = client.post(
        "/admin/campaign/new/", data={"csrf_token": csrf_token(client), "name": "Nobody"}
    )
    assert response.status_code == 400
    assert b"Audience: choose at least one list or a segment." in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0
    count = client.get("/admin/campaign/audience-count", query_string={"lists": [lst.id]}).json
    assert count == {"count": 4, "text": "4"}


def confirm_launch(client, campaign, count: str, **kwargs):
    """Launch from the review, confirming `count` people as its button does."""
    return client.post(
        f"/admin/campaign/launch/{campaign.id}",
        data={"csrf_token": csrf_token(client), "confirm_count": count},
        **kwargs,
    )


def test_launch_needs_the_confirmed_count_and_happens_once(as_user, app):
    client, campaign = two_person_draft(as_user)
    url = f"/admin/campaign/launch/{campaign.id}"
    unconfirmed = confirm_launch(client, campaign, "")
    assert unconfirmed.status_code == 200
    assert b"Confirm the audience size shown on the review" in unconfirmed.data
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DRAFT

    assert confirm_launch(client, campaign, "2").status_code == 302
    again = confirm_launch(client, campaign, "2", follow_redirects=True)
    assert again.status_code == 200
    assert b"was already launched (it is scheduled); nothing was sent again" in again.data
    back = client.get(url)
    assert back.headers["Cache-Control"] == "no-store"
    assert b'id="launch-button"' not in client.get(f"{url}/checks").data
    assert b"It cannot be launched again" in back.data
    details = client.get(f"/admin/campaign/details/?id={campaign.id}")
    assert details.headers["Cache-Control"] == "no-store"
    assert b"Mail goes out: first message about" in details.data
    assert b"Review and launch" not in details.data


def test_a_launch_confirmed_for_another_audience_size_pauses_before_sending(as_user, app):
    client, campaign = two_person_draft(as_user)
    # The review showed one person; a second joined before the launch was prepared.
    assert confirm_launch(client, campaign, "1").status_code == 302
    assert pipeline.prepare_deliveries(campaign.id) == 2
    db.session.expire_all()
    held = db.session.get(Campaign, campaign.id)
    assert held.status == CampaignStatus.PAUSED
    assert held.paused_reason == (
        "the audience changed after launch: 1 confirmed, 2 prepared. "
        "Resume to send to the 2, or cancel."
    )
    assert pipeline.plan_dispatch().batches == []
    details = client.get(f"/admin/campaign/details/?id={campaign.id}")
    assert b"1 confirmed, 2 prepared" in details.data
    pause = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "campaign.pause"))
    assert (pause.actor, pause.context["confirmed"], pause.context["prepared"]) == (
        "pipeline",
        1,
        2,
    )

    resumed = client.post(
        f"/admin/campaign/control/{campaign.id}",
        data={"csrf_token": csrf_token(client), "verb": "resume"},
    )
    assert resumed.status_code == 302
    assert [len(ids) for _id, ids in pipeline.plan_dispatch().batches] == [2]


def test_a_launch_confirmed_for_the_prepared_size_goes_ahead(as_user, app):
    client, campaign = two_person_draft(as_user)
    assert confirm_launch(client, campaign, "2").status_code == 302
    assert pipeline.prepare_deliveries(campaign.id) == 2
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SCHEDULED
    assert [len(ids) for _id, ids in pipeline.plan_dispatch().batches] == [2]


def test_a_launched_campaign_cannot_be_edited(as_user, app):
    project, client = marketer(as_user)
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    campaign.status = CampaignStatus.SCHEDULED
    db.session.commit()
    for url in (
        f"/admin/campaign/{campaign.id}/content",
        f"/admin/campaign/edit/?id={campaign.id}",
    ):
        response = client.post(url, data={"csrf_token": csrf_token(client), "sender_id": ""})
        assert response.status_code == 302
    assert db.session.get(Campaign, campaign.id).sender_id is not None


def test_a_bad_utm_value_is_refused_and_nothing_saved(as_user, app):
    project, client = marketer(as_user)
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    campaign.utm = {"ref": "api"}
    db.session.commit()
    response = client.post(
        f"/admin/campaign/{campaign.id}/content",
        data={
            "csrf_token": csrf_token(client),
            "template_id": campaign.template_id,
            "sender_id": campaign.sender_id,
            "utm_term": "{{ contact.email }}",
        },
    )
    assert response.status_code == 400
    assert b"utm utm_term line 1: unknown variable" in response.data
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).utm == {"ref": "api"}
    client.post(
        f"/admin/campaign/{campaign.id}/content",
        data={
            "csrf_token": csrf_token(client),
            "template_id": campaign.template_id,
            "sender_id": campaign.sender_id,
            "utm_campaign": "{{ campaign.slug }}",
        },
    )
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).utm == {
        "ref": "api",
        "utm_campaign": "{{ campaign.slug }}",
    }
