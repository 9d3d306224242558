"""GDPR: export holds everything; erasure leaves only a hashed, working suppression."""

from __future__ import annotations

import json

import sqlalchemy as sa

from mailapp.audience.contacts import upsert_contacts
from mailapp.audience.gdpr import erase_contact, export_contact
from mailapp.audience.lists import add_contacts, create_list
from mailapp.audience.segments.store import count_rule
from mailapp.audience.suppression import filter_unsuppressed, is_suppressed
from mailapp.extensions import db
from mailapp.models import (
    AuditLog,
    ConsentRecord,
    Contact,
    ContactStatus,
    Event,
    EventType,
    InboundMessage,
    ListMembership,
    Suppression,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_contact, make_project


def _person(project):
    contact = make_contact(
        project,
        "Jane.Doe@example.com",
        first_name="Jane",
        last_name="Doe",
        attributes={"city": "Berlin"},
        timezone="Europe/Berlin",
    )
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    add_contacts(project.id, news.id, [contact.id], actor=TEST_ACTOR)
    db.session.add_all(
        [
            ConsentRecord(
                project_id=project.id,
                contact_id=contact.id,
                list_id=news.id,
                source="form",
                ip="203.0.113.9",
                user_agent="Firefox",
                confirmed_at=utcnow(),
            ),
            Event(
                project_id=project.id,
                type=EventType.CLICK,
                contact_id=contact.id,
                payload={"url": "https://example.com/?email=jane.doe@example.com"},
            ),
            InboundMessage(
                project_id=project.id,
                source="pipe",
                raw=b"Final-Recipient: rfc822; Jane.Doe@example.com",
                classification="bounce_soft",
                recipients="Jane.Doe@example.com",
            ),
        ]
    )
    db.session.commit()
    return contact


def test_export_contains_profile_lists_consent_and_events(app) -> None:
    with app.app_context():
        project = make_project()
        contact = _person(project)
        data = export_contact(project.id, contact.id, actor=TEST_ACTOR)
        json.dumps(data)  # JSON-ready as it is
        assert data["profile"]["email"] == "Jane.Doe@example.com"
        assert data["profile"]["attributes"] == {"city": "Berlin"}
        assert data["lists"][0]["list"] == "News"
        assert data["consent"][0]["ip"] == "203.0.113.9"
        assert data["events"][0]["type"] == "click"
        assert "contact.export" in db.session.scalars(sa.select(AuditLog.action)).all()


def test_erasure_removes_personal_data_and_keeps_a_working_suppression(app) -> None:
    with app.app_context():
        project = make_project()
        contact = _person(project)
        erase_contact(project.id, contact.id, actor=TEST_ACTOR)

        db.session.expire_all()
        erased = db.session.get(Contact, contact.id)
        assert erased.status is ContactStatus.ERASED
        assert "jane" not in erased.email.lower()
        assert (erased.first_name, erased.last_name, erased.timezone) == (None, None, None)
        assert erased.attributes == {}
        assert db.session.scalar(sa.select(Event.payload)) == {}
        inbound = db.session.scalar(sa.select(InboundMessage))
        assert (inbound.raw, inbound.recipients) == (b"", None)
        consent = db.session.scalar(sa.select(ConsentRecord))
        assert (consent.ip, consent.user_agent) == (None, None)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ListMembership)) == 0
        entry = db.session.scalar(sa.select(Suppression))
        assert entry.email is None
        assert entry.reason is SuppressionReason.ERASURE

        # The hash still works: the address is never mailed, and an import cannot bring it back.
        assert is_suppressed(project.id, "jane.doe@EXAMPLE.com")
        assert filter_unsuppressed(project.id, ["Jane.Doe@example.com"]) == set()
        result = upsert_contacts(project.id, [{"email": "Jane.Doe@example.com"}], actor=TEST_ACTOR)
        assert result.errors == [{"email": "jane.doe@example.com", "error": "suppressed"}]
        rule = {"field": "email", "op": "contains", "value": "@"}
        assert count_rule(project.id, rule) == 0
        assert "contact.erase" in db.session.scalars(sa.select(AuditLog.action)).all()
