"""Sender warm-up plans and campaign guardrails: checked ranges, audited changes."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from mailapp.access.validation import InvalidSettings
from mailapp.delivery.guardrail_settings import guardrail_values, set_guardrails
from mailapp.delivery.ratelimits import warmup_cap
from mailapp.delivery.senders import set_warmup_plan
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, Campaign, CampaignStatus, Sender
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)


def entries(action):
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action)).all()


def test_warmup_plan_is_what_the_rate_limiter_reads(app):
    project = make_project()
    sender = make_sender(project)
    set_warmup_plan(
        project, sender.id, start="2026-03-01", daily_caps="50, 100 200", actor=TEST_ACTOR
    )
    stored = db.session.get(Sender, sender.id)
    assert stored.warmup_plan == {"start": "2026-03-01", "daily_caps": [50, 100, 200]}
    assert warmup_cap(stored, date(2026, 3, 2)) == 100
    assert warmup_cap(stored, date(2026, 3, 9)) is None
    [entry] = entries("sender.warmup")
    assert entry.context["changes"]["warmup_plan"]["old"] is None
    # Empty caps end the warm-up, audited too.
    set_warmup_plan(project, sender.id, start="", daily_caps="", actor=TEST_ACTOR)
    assert db.session.get(Sender, sender.id).warmup_plan == {}
    assert len(entries("sender.warmup")) == 2


def test_warmup_plan_refuses_bad_caps_and_dates_and_other_projects(app):
    project, other = make_project(), make_project()
    sender = make_sender(project)
    with pytest.raises(InvalidSettings) as refused:
        set_warmup_plan(project, sender.id, start="1 March", daily_caps="50, 0", actor=TEST_ACTOR)
    db.session.rollback()
    assert set(refused.value.errors) == {"daily_caps", "start"}
    assert "YYYY-MM-DD" in refused.value.errors["start"]
    with pytest.raises(InvalidSettings) as refused:
        set_warmup_plan(project, sender.id, start="", daily_caps="50", actor=TEST_ACTOR)
    db.session.rollback()
    assert "first day" in refused.value.errors["start"]
    with pytest.raises(NotFound):
        set_warmup_plan(other, sender.id, start="2026-03-01", daily_caps="5", actor=TEST_ACTOR)
    db.session.rollback()
    assert db.session.get(Sender, sender.id).warmup_plan == {}
    assert entries("sender.warmup") == []


def campaign_of(project, **fields):
    return make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)], **fields
    )


def test_guardrails_are_given_in_percent_and_stored_as_the_pipeline_reads_them(app):
    project = make_project()
    campaign = campaign_of(project)
    changed = set_guardrails(
        project,
        campaign.id,
        {"canary_percent": "5", "max_bounce_percent": "2.5", "max_complaint_percent": "0.3"},
        actor=TEST_ACTOR,
    )
    stored = db.session.get(Campaign, campaign.id)
    assert stored.guardrails == {
        "canary_share": 0.05,
        "max_bounce_rate": 0.025,
        "max_complaint_rate": 0.003,
    }
    assert changed["canary_percent"] == {"old": None, "new": 5.0}
    assert guardrail_values(stored)["max_complaint_percent"] == 0.3
    [entry] = entries("campaign.guardrails")
    assert entry.object_id == str(campaign.id)
    set_guardrails(project, campaign.id, {"canary_percent": ""}, actor=TEST_ACTOR)
    assert "canary_share" not in db.session.get(Campaign, campaign.id).guardrails


def test_guardrail_ranges_and_statuses_are_enforced(app):
    project = make_project()
    campaign = campaign_of(project)
    with pytest.raises(InvalidSettings) as refused:
        set_guardrails(
            project,
            campaign.id,
            {"canary_percent": "80", "max_bounce_percent": "0", "min_sample": "5"},
            actor=TEST_ACTOR,
        )
    db.session.rollback()
    assert set(refused.value.errors) == {"canary_percent", "max_bounce_percent", "min_sample"}
    assert "from 1 to 50" in refused.value.errors["canary_percent"]
    assert db.session.get(Campaign, campaign.id).guardrails in ({}, None)
    stored = db.session.get(Campaign, campaign.id)
    stored.status = CampaignStatus.SENDING
    db.session.commit()
    # While it sends, thresholds may change, the canary may not.
    set_guardrails(project, campaign.id, {"max_bounce_percent": "3"}, actor=TEST_ACTOR)
    with pytest.raises(InvalidSettings):
        set_guardrails(project, campaign.id, {"canary_percent": "10"}, actor=TEST_ACTOR)
    db.session.rollback()
    stored = db.session.get(Campaign, campaign.id)
    stored.status = CampaignStatus.SENT
    db.session.commit()
    with pytest.raises(ServiceError):
        set_guardrails(project, campaign.id, {"max_bounce_percent": "4"}, actor=TEST_ACTOR)
