"""Support desk in Chromium: open a contact, unsubscribe from one list, erase with confirmation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.audience.lists import add_contacts, create_list
from mailapp.extensions import db
from mailapp.models import Contact, ContactStatus, Event, EventType, Link
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_contact,
    make_project,
    make_sender,
    make_template,
    make_user,
)
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def _person(project) -> Contact:
    contact = make_contact(project, "pat@example.com", first_name="Pat", last_name="Lee")
    news = create_list(project.id, "Newsletter", actor=TEST_ACTOR)
    offers = create_list(project.id, "Offers", actor=TEST_ACTOR)
    for lst in (news, offers):
        add_contacts(project.id, lst.id, [contact.id], actor=TEST_ACTOR)
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [news], name="Spring sale"
    )
    link = Link(
        project_id=project.id,
        campaign_id=campaign.id,
        url="https://shop.example/spring",
        position=0,
    )
    db.session.add(link)
    db.session.flush()
    for kind in (EventType.SENT, EventType.OPEN, EventType.CLICK):
        db.session.add(
            Event(
                project_id=project.id,
                type=kind,
                contact_id=contact.id,
                campaign_id=campaign.id,
                link_id=link.id if kind is EventType.CLICK else None,
                payload={},
            )
        )
    db.session.commit()
    return contact


def test_support_unsubscribes_from_one_list_then_erases(app, page, tmp_path):
    project = make_project("acme")
    make_user(project, "support", email="support@example.com")
    contact = _person(project)
    log_in(page, "support@example.com")

    page.goto("/admin/contact/")
    page.screenshot(path=tmp_path / "01-contacts.png", full_page=True)
    assert "1 contact" in page.inner_text("#contact-total")
    page.click("text=pat@example.com")
    page.wait_for_selector("#contact-status")
    page.screenshot(path=tmp_path / "02-profile.png", full_page=True)
    events = page.inner_text("#contact-events")
    assert "Spring sale" in events
    assert "https://shop.example/spring" in events

    page.click("button[aria-label='Unsubscribe from Newsletter']")
    page.wait_for_selector("text=Unsubscribed from “Newsletter”")
    page.screenshot(path=tmp_path / "03-unsubscribed-one.png", full_page=True)
    rows = page.inner_text("#contact-lists")
    assert "Newsletter\tunsubscribed" in rows
    assert "Offers\tsubscribed" in rows
    assert "withdrawn" in page.inner_text("#contact-consent")

    page.click("#erase-link")
    page.fill("#confirmation", "pat@example.org")
    page.click("text=Erase this contact")
    page.wait_for_selector("#erase-error")
    page.screenshot(path=tmp_path / "04-erase-wrong-address.png", full_page=True)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).status is ContactStatus.ACTIVE

    page.fill("#confirmation", "pat@example.com")
    page.click("text=Erase this contact")
    page.wait_for_selector("text=Personal data erased")
    page.screenshot(path=tmp_path / "05-erased.png", full_page=True)
    assert page.inner_text("#contact-status") == "erased"
    db.session.expire_all()
    erased = db.session.scalar(sa.select(Contact).where(Contact.id == contact.id))
    assert erased.status is ContactStatus.ERASED
    assert erased.first_name is None
