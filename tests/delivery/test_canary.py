"""The canary gates the campaign: sized to the minimum sample, the rest waits for its
verdict, late bounces count, and feedback from any source asks for a judgement at once.
Sent for real to an SMTP sink, through the in-process pipeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.delivery import canary
from mailapp.delivery.campaigns import resume_campaign
from mailapp.delivery.guardrail_settings import set_guardrails
from mailapp.delivery.guardrails import check_guardrails as judge
from mailapp.extensions import db
from mailapp.feedback.inbound import ingest_message
from mailapp.models import AuditLog, Campaign, CampaignStatus, Contact, Delivery, DeliveryStatus
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.bounces import BOUNCE_DOMAIN, dsn
from tests.support.pipeline import launch, pipeline_sink, run_pipeline, run_queue
from workers.actors.sending import check_guardrails
from workers.broker import broker


@pytest.fixture
def sink(app):
    with pipeline_sink(app) as sink:
        yield sink


def new_campaign(contacts: int, **guardrails):
    project = make_project()
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [make_list(project, contacts)],
        guardrails=guardrails,
    )
    launch(project, campaign)
    return project, campaign


def count(campaign_id: int, status: DeliveryStatus) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == status)
    )


def bounce_late(campaign_id: int, how_many: int, skip: int = 0) -> None:
    """Hard bounces arriving after the send, through the MTA pipe's own path (VERP)."""
    rows = db.session.execute(
        sa.select(Delivery.id, Contact.email)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.SENT)
        .order_by(Delivery.id)
        .offset(skip)
        .limit(how_many)
    ).all()
    signer = LinkSigner.from_app()
    for delivery_id, address in rows:
        verp = signer.verp_address(delivery_id, BOUNCE_DOMAIN)
        raw = dsn(verp, address, "5.1.1", f"550 5.1.1 <{address}>: user unknown")
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        db.session.commit()


def make_due(campaign_id: int) -> None:
    """The rest's scheduled time has come (it was launched long ago)."""
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.QUEUED)
        .values(scheduled_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def observed_for(campaign_id: int, minutes: int) -> None:
    """The canary's mail went out `minutes` ago."""
    stored = db.session.get(Campaign, campaign_id)
    sent_at = utcnow() - timedelta(minutes=minutes)
    snapshot = dict(stored.snapshot)
    snapshot["canary"] = {**snapshot["canary"], "sent_at": sent_at.isoformat()}
    stored.snapshot = snapshot
    db.session.commit()


def test_a_small_canary_is_sized_to_the_minimum_sample_and_the_rest_waits(app, sink):
    # 5 % of 400 is 20, fewer than the minimum sample of 50: the canary is 50.
    _, campaign = new_campaign(400, canary_share=0.05, canary_minutes=30, min_sample=50)
    run_pipeline(campaign.id)
    stored = db.session.get(Campaign, campaign.id)
    assert stored.snapshot["canary"]["size"] == 50
    assert count(campaign.id, DeliveryStatus.SENT) == len(sink.messages) == 50
    # The rest waits for the verdict, observed from the canary's end, even once it is due.
    make_due(campaign.id)
    run_pipeline(campaign.id)
    assert len(sink.messages) == 50
    state = canary.canary_state(db.session.get(Campaign, campaign.id))
    assert state["verdict"] is None
    assert state["verdict_due"] == state["sent_at"] + timedelta(minutes=30)
    observed_for(campaign.id, 29)
    run_pipeline(campaign.id)
    assert len(sink.messages) == 50
    # The observation time is over, no bounces: passed, the rest goes out.
    observed_for(campaign.id, 31)
    run_pipeline(campaign.id)
    assert len(sink.messages) == 400
    assert db.session.get(Campaign, campaign.id).snapshot["canary"]["verdict"] == "passed"
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "campaign.canary"))
    assert audit.context["verdict"] == "passed"
    assert audit.context["judged"] == 50


def test_late_bounces_during_the_observation_pause_the_campaign_at_the_verdict(app, sink):
    project, campaign = new_campaign(
        300, canary_share=0.2, canary_minutes=60, max_bounce_rate=0.05, min_sample=100
    )
    run_pipeline(campaign.id)
    make_due(campaign.id)
    run_pipeline(campaign.id)
    assert len(sink.messages) == 100
    # The canary was fine at send time; its bounces come back later, by mail.
    bounce_late(campaign.id, 8)
    observed_for(campaign.id, 61)
    run_pipeline(campaign.id)
    stored = db.session.get(Campaign, campaign.id)
    assert stored.status == CampaignStatus.PAUSED
    assert stored.paused_reason == "auto-paused: hard bounce rate 8.00% above 5.00%"
    assert stored.snapshot["canary"]["verdict"] == "paused"
    assert len(sink.messages) == 100
    assert count(campaign.id, DeliveryStatus.QUEUED) == 200
    # A person who raises the threshold and resumes overrules the verdict: the rest goes out.
    set_guardrails(project, campaign.id, {"max_bounce_percent": "10"}, actor=TEST_ACTOR)
    resume_campaign(project, campaign.id, actor=TEST_ACTOR)
    run_pipeline(campaign.id)
    assert len(sink.messages) == 300
    assert db.session.get(Campaign, campaign.id).snapshot["canary"]["verdict"] == "passed"


def test_bounces_arriving_ask_a_worker_to_judge_the_campaign_at_once(app, sink):
    _, campaign = new_campaign(
        300, canary_share=0.2, canary_minutes=60, max_bounce_rate=0.05, min_sample=100
    )
    run_pipeline(campaign.id)
    broker.flush("feedback")
    bounce_late(campaign.id, 8)
    # One judgement asked for the burst, once the bounces were committed.
    assert broker.queues["feedback"].qsize() == 1
    run_queue(check_guardrails.queue_name)
    db.session.expire_all()
    stored = db.session.get(Campaign, campaign.id)
    # Paused within the observation time, without waiting for the verdict or a batch end.
    assert stored.status == CampaignStatus.PAUSED
    assert stored.paused_reason.startswith("auto-paused: hard bounce rate")
    # Feedback after the judgement started asks again.
    bounce_late(campaign.id, 1, skip=8)
    assert broker.queues["feedback"].qsize() == 1


def test_a_canary_below_its_threshold_is_not_judged_before_its_sample(app, sink):
    _, campaign = new_campaign(
        300, canary_share=0.2, canary_minutes=60, max_bounce_rate=0.05, min_sample=100
    )
    # Part of the canary was sent (two batches), then the bounces came: too few to judge.
    app.config["DISPATCH_MAX_BATCHES"] = 2
    run_pipeline(campaign.id, rounds=2)  # prepare, then one dispatch
    sent = count(campaign.id, DeliveryStatus.SENT)
    assert 0 < sent < 100
    bounce_late(campaign.id, 6)
    assert judge(campaign.id) is None
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SENDING
