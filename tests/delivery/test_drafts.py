"""Drafts: step edits, duplicates and the resend to non-openers (a frozen set of people)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.delivery import pipeline
from mailapp.delivery.drafts import duplicate_campaign, resend_to_non_openers, update_draft
from mailapp.delivery.launch import launch_campaign, preflight
from mailapp.delivery.recipients import count_audience
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    ScheduleMode,
)
from mailapp.models.base import utcnow
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_contact,
    make_delivery,
    make_list,
    make_project,
    make_sender,
    make_sent_campaign,
    make_template,
)
from tests.support.audit import one_audit_entry


def test_update_draft_validates_and_saves_nothing_when_refused(app):
    project = make_project()
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    with pytest.raises(ServiceError, match="not a time of day"):
        update_draft(
            project,
            campaign.id,
            actor=TEST_ACTOR,
            schedule_mode=ScheduleMode.LOCAL_TIME,
            local_send_time="9am",
        )
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).local_send_time is None
    with one_audit_entry("campaign.update") as entry:
        update_draft(project, campaign.id, actor=TEST_ACTOR, name="Renamed")
    assert entry[0].context == {"changed": ["name"]}
    campaign.status = CampaignStatus.SENT
    db.session.commit()
    with pytest.raises(ServiceError, match="Only draft campaigns"):
        update_draft(project, campaign.id, actor=TEST_ACTOR, name="Again")


def test_duplicate_keeps_content_and_audience_and_clears_the_schedule(app):
    project = make_project()
    lst = make_list(project, 2)
    source = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [lst],
        schedule_mode=ScheduleMode.LOCAL_TIME,
        local_send_time="09:30",
        send_window={"days": [0], "start": "09:00", "end": "17:00"},
        utm={"utm_source": "news"},
    )
    source.status = CampaignStatus.SENT
    db.session.commit()
    with one_audit_entry("campaign.duplicate") as entry:
        copy = duplicate_campaign(project, source.id, actor=TEST_ACTOR)
    assert entry[0].context == {"source_campaign_id": source.id}
    assert (copy.status, copy.name) == (CampaignStatus.DRAFT, f"Copy of {source.name}")
    assert (copy.sender_id, copy.template_id) == (source.sender_id, source.template_id)
    assert copy.audience == source.audience
    assert (copy.send_window, copy.utm) == (source.send_window, source.utm)
    assert (copy.schedule_mode, copy.local_send_time, copy.send_at) == (
        ScheduleMode.NOW,
        None,
        None,
    )
    assert (copy.snapshot, copy.launched_at) == (None, None)


def _open(campaign, contact, *, machine=False, kind=EventType.OPEN):
    db.session.add(
        Event(
            project_id=campaign.project_id,
            type=kind,
            campaign_id=campaign.id,
            contact_id=contact.id,
            is_machine=machine,
        )
    )
    db.session.commit()


def test_resend_goes_only_to_recipients_without_a_human_open(app):
    project = make_project()
    source = make_sent_campaign(project)
    contacts = {name: make_contact(project, f"{name}@example.org") for name in "abcdef"}
    for name in "abcde":
        make_delivery(source, contacts[name])
    make_delivery(source, contacts["f"], status=DeliveryStatus.FAILED)  # never received it
    _open(source, contacts["a"])  # opened: not again
    _open(source, contacts["b"], kind=EventType.CLICK)  # clicked with images off: opened
    _open(source, contacts["c"], machine=True)  # only a privacy proxy: still a non-opener
    other = make_sent_campaign(project, name="Other")
    _open(other, contacts["d"])  # opened another campaign: still a non-opener of this one
    db.session.add(make_contact(project, "stranger@example.org"))  # never sent: not included
    with one_audit_entry("campaign.resend_non_openers"):
        resend = resend_to_non_openers(project, source.id, actor=TEST_ACTOR)
    assert resend.audience == {"campaign_non_openers": source.id, "include_quarantined": False}
    assert resend.status == CampaignStatus.DRAFT
    assert count_audience(project.id, resend.audience) == 3  # c, d, e

    # Launched and prepared, it reaches exactly that set, each person once.
    sender, template = make_sender(project), make_template(project)
    update_draft(project, resend.id, actor=TEST_ACTOR, sender_id=sender.id, template_id=template.id)
    checks = {c.name: c for c in preflight(project, resend)}
    assert checks["audience"].ok
    assert "3 people" in checks["audience"].message
    launch_campaign(project, resend.id, actor=TEST_ACTOR)
    assert pipeline.prepare_deliveries(resend.id) == 3
    assert pipeline.prepare_deliveries(resend.id) == 0
    reached = set(
        db.session.scalars(sa.select(Delivery.contact_id).where(Delivery.campaign_id == resend.id))
    )
    assert reached == {contacts[n].id for n in "cde"}


def test_resend_needs_a_campaign_that_sent(app):
    project = make_project()
    draft = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    with pytest.raises(ServiceError, match="has sent mail"):
        resend_to_non_openers(project, draft.id, actor=TEST_ACTOR)
    foreign = make_sent_campaign(make_project())
    with pytest.raises(ServiceError):
        resend_to_non_openers(project, foreign.id, actor=TEST_ACTOR)


def test_subject_length_is_measured_as_rendered(app):
    project = make_project()
    # 118 characters of Jinja that render to a short subject line.
    subject = (
        "{% if contact.first_name %}{{ contact.first_name | default('there') | title }}, "
        "your December picks{% else %}Your December picks{% endif %}"
    )
    assert len(subject) > 100
    lst = make_list(project, 1)
    campaign = make_campaign(
        project, make_sender(project), make_template(project, subject=subject), [lst]
    )
    check = next(c for c in preflight(project, campaign) if c.name == "subject")
    assert check.ok
    assert check.message == f"{len('N0, your December picks')} characters as a recipient reads it"
    long = make_template(project, subject="{{ contact.first_name }} " + "x" * 80)
    campaign.template_id = long.id
    db.session.commit()
    check = next(c for c in preflight(project, campaign) if c.name == "subject")
    assert (check.ok, check.blocking) == (False, False)
    assert "83 characters as a recipient reads it" in check.message


def test_empty_campaign_preflight_says_what_to_choose(app):
    project = make_project()
    campaign = Campaign(project_id=project.id, name="Empty", audience={})
    db.session.add(campaign)
    db.session.commit()
    messages = {c.name: c.message for c in preflight(project, campaign, now=utcnow())}
    assert messages["content"].startswith("Choose a template")
    assert messages["sender"].startswith("Choose a sender")
    assert messages["audience"].startswith("Choose who receives it")
