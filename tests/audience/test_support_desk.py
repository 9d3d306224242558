"""Support desk rules: unsubscribe one list or all, resubscribe with consent, typed erasure."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.audience.contact_reads import contact_detail, count_rows
from mailapp.audience.gdpr import erase_contact_confirmed
from mailapp.audience.lists import add_contacts
from mailapp.audience.resubscribe import resubscribe_contact
from mailapp.audience.suppression import is_suppressed
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.feedback.unsubscribe import subscriber_for_contact, unsubscribe
from mailapp.models import (
    AuditLog,
    ConsentRecord,
    Contact,
    ContactStatus,
    Event,
    EventType,
    Link,
    ListMembership,
    MembershipStatus,
)
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)


@pytest.fixture
def person(app):
    project = make_project("desk")
    news = make_list(project, emails=["ann@example.org"])
    offers = make_list(project)
    contact = db.session.scalar(sa.select(Contact).where(Contact.project_id == project.id))
    add_contacts(project.id, offers.id, [contact.id], actor=TEST_ACTOR)
    return project, contact, news, offers


def _status(project, lst, contact):
    return db.session.scalar(
        sa.select(ListMembership.status).where(
            ListMembership.project_id == project.id,
            ListMembership.list_id == lst.id,
            ListMembership.contact_id == contact.id,
        )
    )


def _withdrawn(project, contact):
    return db.session.scalars(
        sa.select(ConsentRecord.list_id).where(
            ConsentRecord.project_id == project.id,
            ConsentRecord.contact_id == contact.id,
            ConsentRecord.withdrawn_at.is_not(None),
        )
    ).all()


def _actions(project):
    return db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.project_id == project.id)
    ).all()


def test_unsubscribe_from_one_list_keeps_the_others_and_does_not_suppress(person):
    project, contact, news, offers = person
    subscriber = subscriber_for_contact(project.id, contact.id)
    assert unsubscribe(subscriber, list_id=news.id, method="support", actor=TEST_ACTOR)
    assert _status(project, news, contact) is MembershipStatus.UNSUBSCRIBED
    assert _status(project, offers, contact) is not MembershipStatus.UNSUBSCRIBED
    assert _withdrawn(project, contact) == [news.id]
    assert "list.unsubscribe" in _actions(project)
    assert not is_suppressed(project.id, contact.email)
    db.session.refresh(contact)
    assert contact.status is ContactStatus.ACTIVE
    # A second click changes nothing.
    again = subscriber_for_contact(project.id, contact.id)
    assert not unsubscribe(again, list_id=news.id, method="support", actor=TEST_ACTOR)


def test_unsubscribe_from_everything_suppresses_and_withdraws_every_list(person):
    project, contact, news, offers = person
    subscriber = subscriber_for_contact(project.id, contact.id)
    assert unsubscribe(subscriber, list_id=None, method="support", actor=TEST_ACTOR)
    assert _status(project, news, contact) is MembershipStatus.UNSUBSCRIBED
    assert _status(project, offers, contact) is MembershipStatus.UNSUBSCRIBED
    assert sorted(_withdrawn(project, contact)) == sorted([news.id, offers.id])
    assert is_suppressed(project.id, contact.email)
    assert "suppression.add" in _actions(project)
    db.session.refresh(contact)
    assert contact.status is ContactStatus.UNSUBSCRIBED


def test_resubscribe_is_refused_without_consent_and_records_it_when_given(person):
    project, contact, news, _ = person
    unsubscribe(
        subscriber_for_contact(project.id, contact.id),
        list_id=news.id,
        method="support",
        actor=TEST_ACTOR,
    )
    for consent in ("", "   ", "x" * 65):
        with pytest.raises(ServiceError, match="consent"):
            resubscribe_contact(project.id, news.id, contact.id, consent=consent, actor=TEST_ACTOR)
    assert _status(project, news, contact) is MembershipStatus.UNSUBSCRIBED

    result = resubscribe_contact(
        project.id, news.id, contact.id, consent="asked by phone on 2 Dec", actor=TEST_ACTOR
    )
    assert not result.needs_confirmation
    assert _status(project, news, contact) is MembershipStatus.CONFIRMED
    record = db.session.scalar(
        sa.select(ConsentRecord)
        .where(ConsentRecord.contact_id == contact.id, ConsentRecord.withdrawn_at.is_(None))
        .order_by(ConsentRecord.id.desc())
    )
    assert record.source == "asked by phone on 2 Dec"
    assert record.form_version == "support desk"
    assert record.confirmed_at is not None
    assert "list.subscribe" in _actions(project)


def test_resubscribing_a_suppressed_address_needs_the_persons_confirmation(person):
    project, contact, news, _ = person
    unsubscribe(
        subscriber_for_contact(project.id, contact.id),
        list_id=None,
        method="support",
        actor=TEST_ACTOR,
    )
    result = resubscribe_contact(
        project.id, news.id, contact.id, consent="wrote to support", actor=TEST_ACTOR
    )
    assert result.needs_confirmation
    assert _status(project, news, contact) is MembershipStatus.UNCONFIRMED
    assert is_suppressed(project.id, contact.email)  # until the person clicks the link


def test_erasure_needs_the_address_typed(person):
    project, contact, _, _ = person
    for typed in (None, "", "someone@else.example"):
        with pytest.raises(ServiceError, match="confirmation"):
            erase_contact_confirmed(project.id, contact.id, typed, actor=TEST_ACTOR)
    db.session.rollback()
    db.session.refresh(contact)
    assert contact.status is ContactStatus.ACTIVE
    assert "contact.erase" not in _actions(project)

    erase_contact_confirmed(project.id, contact.id, " ANN@example.org ", actor=TEST_ACTOR)
    db.session.refresh(contact)
    assert contact.status is ContactStatus.ERASED
    assert "contact.erase" in _actions(project)
    with pytest.raises(ServiceError, match="already erased"):
        erase_contact_confirmed(project.id, contact.id, contact.email, actor=TEST_ACTOR)


def test_history_names_the_campaign_and_the_link(person):
    project, contact, news, _ = person
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [news], name="Spring sale"
    )
    link = Link(
        project_id=project.id, campaign_id=campaign.id, url="https://shop.example/a", position=0
    )
    db.session.add(link)
    db.session.flush()
    db.session.add(
        Event(
            project_id=project.id,
            type=EventType.CLICK,
            contact_id=contact.id,
            campaign_id=campaign.id,
            link_id=link.id,
            payload={},
        )
    )
    db.session.commit()
    detail = contact_detail(project.id, contact.id)
    assert detail.campaign_names == {campaign.id: "Spring sale"}
    assert detail.link_urls == {link.id: "https://shop.example/a"}


def test_count_rows_is_exact_for_small_tables(person):
    project, _, _, _ = person
    total = count_rows(sa.select(Contact).where(Contact.project_id == project.id))
    assert (total.value, total.estimated) == (1, False)


def test_count_rows_estimates_above_the_limit_on_postgresql(person, monkeypatch):
    project, _, _, _ = person
    monkeypatch.setattr("mailapp.audience.contact_reads.EXACT_COUNT_LIMIT", -1)
    total = count_rows(sa.select(Contact).where(Contact.project_id == project.id))
    assert total.estimated is (db.engine.dialect.name == "postgresql")
    assert total.value >= 1
