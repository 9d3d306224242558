"""The send path obeys each rule as the settings pages, API and CLI save it (through the
settings services), sending for real to an SMTP sink."""

from __future__ import annotations

import email
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from mailapp.access.project_settings import update_sending_settings
from mailapp.delivery.guardrail_settings import set_guardrails
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from mailapp.models.base import utcnow
from tests.factories import (
    TEST_ACTOR,
    add_contacts,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.pipeline import launch, pipeline_sink, run_pipeline


@pytest.fixture
def sink(app):
    with pipeline_sink(app) as sink:
        yield sink


def deliveries(campaign_id):
    return db.session.scalars(
        sa.select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
    ).all()


def new_campaign(project, lst, **fields):
    return make_campaign(project, make_sender(project), make_template(project), [lst], **fields)


def html_of(message):
    parsed = email.message_from_bytes(message.data)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode()


def test_a_quiet_hour_delays_the_send_until_it_ends(app, sink):
    project = make_project()
    now = utcnow().astimezone(ZoneInfo(project.timezone))
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    update_sending_settings(
        project,
        {"quiet_hours_start": f"{start:%H:%M}", "quiet_hours_end": f"{end:%H:%M}"},
        actor=TEST_ACTOR,
    )
    campaign = new_campaign(project, make_list(project, 3))
    launch(project, campaign)
    run_pipeline(campaign.id)
    assert sink.messages == []
    rows = deliveries(campaign.id)
    assert {r.status for r in rows} == {DeliveryStatus.QUEUED}
    for row in rows:
        local = row.scheduled_at.astimezone(ZoneInfo(project.timezone))
        assert f"{local:%H:%M}" == f"{end:%H:%M}"
        assert row.scheduled_at > utcnow() + timedelta(hours=1, minutes=50)


def test_a_frequency_cap_skips_a_contact_already_mailed(app, sink):
    project = make_project()
    lst = make_list(project, 3)
    first = new_campaign(project, lst)
    launch(project, first)
    run_pipeline(first.id)
    assert len(sink.messages) == 3
    update_sending_settings(project, {"frequency_cap_7d": "1"}, actor=TEST_ACTOR)
    second = new_campaign(project, lst)
    launch(project, second)
    run_pipeline(second.id)
    assert len(sink.messages) == 3
    assert {(d.status, d.reason) for d in deliveries(second.id)} == {
        (DeliveryStatus.SUPPRESSED, "frequency cap")
    }


def test_the_daily_quota_stops_at_the_cap(app, sink):
    project = make_project()
    update_sending_settings(project, {"quota_messages_per_day": "4"}, actor=TEST_ACTOR)
    campaign = new_campaign(project, make_list(project, 7))
    launch(project, campaign)
    run_pipeline(campaign.id)
    assert len(sink.messages) == 4
    waiting = [d for d in deliveries(campaign.id) if d.status == DeliveryStatus.QUEUED]
    assert len(waiting) == 3
    assert all(d.scheduled_at > utcnow() for d in waiting)


def test_tracking_off_sends_no_pixel_and_leaves_links_as_written(app, sink):
    project = make_project()
    update_sending_settings(project, {"tracking": "off"}, actor=TEST_ACTOR)
    campaign = new_campaign(project, make_list(project, 2))
    launch(project, campaign)
    run_pipeline(campaign.id)
    assert len(sink.messages) == 2
    body = html_of(sink.messages[0])
    assert "/t/o/" not in body
    assert "/t/c/" not in body
    assert "https://example.com/news" in body


def test_anonymous_tracking_sends_no_pixel_but_counts_clicks(app, sink):
    project = make_project()
    update_sending_settings(project, {"tracking": "anonymous"}, actor=TEST_ACTOR)
    campaign = new_campaign(project, make_list(project, 1))
    launch(project, campaign)
    run_pipeline(campaign.id)
    body = html_of(sink.messages[0])
    assert "/t/o/" not in body
    assert "/t/c/" in body


def test_a_canary_pauses_the_campaign_on_bounces(app, sink):
    project = make_project()
    lst = make_list(project, 60)
    bad = [f"gone{i}@example.org" for i in range(30)]
    add_contacts(project, lst, bad)
    sink.rcpt_rules.update(dict.fromkeys(bad, "550 5.1.1 unknown user"))
    campaign = new_campaign(project, lst)
    set_guardrails(
        project,
        campaign.id,
        {"canary_percent": "40", "max_bounce_percent": "5", "min_sample": "10"},
        actor=TEST_ACTOR,
    )
    launch(project, campaign)
    run_pipeline(campaign.id)
    stored = db.session.get(Campaign, campaign.id)
    assert stored.status == CampaignStatus.PAUSED
    assert stored.paused_reason.startswith("auto-paused: hard bounce rate")
    # Only (part of) the canary went out; the rest of the audience was never tried.
    assert len(sink.messages) < 50
    assert sum(d.status == DeliveryStatus.QUEUED for d in deliveries(campaign.id)) > 30
