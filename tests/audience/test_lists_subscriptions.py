"""Lists (bulk membership work) and subscription housekeeping."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.audience.lists import (
    add_contacts,
    create_list,
    list_counts,
    remove_contacts,
    set_membership_status,
)
from mailapp.audience.segments.store import add_segment, save_segment
from mailapp.audience.subscriptions import expire_unconfirmed, subscribe, withdraw_consent
from mailapp.audience.suppression import import_suppressions, is_suppressed
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import (
    ConsentRecord,
    Contact,
    ContactStatus,
    ListMembership,
    MembershipStatus,
    OptIn,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_contact, make_project


def test_bulk_membership_is_scoped_to_the_project(app) -> None:
    with app.app_context():
        project, other = make_project(), make_project()
        mine = [make_contact(project, f"m{i}@example.com") for i in range(4)]
        theirs = make_contact(other, "t@example.com")
        news = create_list(project.id, "News", actor=TEST_ACTOR)
        ids = [c.id for c in mine] + [theirs.id]
        assert add_contacts(project.id, news.id, ids, actor=TEST_ACTOR) == 4
        assert add_contacts(project.id, news.id, ids, actor=TEST_ACTOR) == 0
        assert (
            set_membership_status(
                project.id, news.id, [mine[0].id], MembershipStatus.UNSUBSCRIBED, actor=TEST_ACTOR
            )
            == 1
        )
        assert list_counts(project.id) == {news.id: {"confirmed": 3, "unsubscribed": 1}}
        assert remove_contacts(project.id, news.id, [mine[1].id, theirs.id], actor=TEST_ACTOR) == 1
        with pytest.raises(NotFound):
            add_contacts(other.id, news.id, [theirs.id], actor=TEST_ACTOR)


def test_add_by_segment(app) -> None:
    with app.app_context():
        project = make_project()
        for i in range(6):
            make_contact(
                project, f"s{i}@example.com", attributes={"plan": "pro" if i % 2 else "free"}
            )
        news = create_list(project.id, "Pro news", actor=TEST_ACTOR)
        pros = save_segment(
            project.id,
            "Pros",
            {"field": "attributes.plan", "op": "eq", "value": "pro"},
            actor=TEST_ACTOR,
        )
        assert add_segment(project.id, news.id, pros.id, actor=TEST_ACTOR) == 3


def test_unconfirmed_requests_expire_with_the_contacts_they_created(app) -> None:
    with app.app_context():
        project = make_project()
        double = create_list(project.id, "D", opt_in=OptIn.DOUBLE, actor=TEST_ACTOR)
        known = make_contact(project, "known@example.com")
        for address in ("new@example.com", "known@example.com"):
            subscribe(project.id, double.id, {"email": address}, actor=TEST_ACTOR, source="api")
        assert expire_unconfirmed() == 0
        assert expire_unconfirmed(now=utcnow() + timedelta(days=8)) == 2
        emails = db.session.scalars(sa.select(Contact.email)).all()
        assert emails == [known.email]  # only the contact the request created is gone


def test_single_opt_in_and_withdrawal(app) -> None:
    with app.app_context():
        project = make_project()
        single = create_list(project.id, "S", consent_version="v1", actor=TEST_ACTOR)
        result = subscribe(
            project.id,
            single.id,
            {"email": "s@example.com"},
            actor=TEST_ACTOR,
            source="api",
            ip="198.51.100.1",
        )
        assert result.status is MembershipStatus.CONFIRMED
        assert not result.needs_confirmation
        record = db.session.scalar(sa.select(ConsentRecord))
        assert (record.consent_text_version, record.ip) == ("v1", "198.51.100.1")
        assert record.confirmed_at is not None
        withdraw_consent(project.id, single.id, result.contact_id, actor=TEST_ACTOR)
        db.session.refresh(record)
        assert record.withdrawn_at is not None
        membership = db.session.get(ListMembership, (single.id, result.contact_id))
        assert membership.status is MembershipStatus.UNSUBSCRIBED


def test_suppression_csv_import(app) -> None:
    with app.app_context():
        project = make_project()
        active = make_contact(project, "Bounce@example.com")
        csv_text = (
            "\ufeffname;email\nA;a@example.com\nB;not-an-address\n"
            "C;Bounce@Example.com\nA;A@example.com\n"
        )
        result = import_suppressions(
            project.id,
            io.StringIO(csv_text),
            reason=SuppressionReason.HARD_BOUNCE,
            actor=TEST_ACTOR,
        )
        assert (result.added, result.already) == (2, 0)
        assert [line for line, _ in result.invalid] == [3]
        assert is_suppressed(project.id, "a@example.com")
        db.session.refresh(active)
        assert active.status is ContactStatus.BOUNCED
        again = import_suppressions(project.id, io.StringIO("a@example.com\n"), actor=TEST_ACTOR)
        assert (again.added, again.already) == (0, 1)


def test_consent_evidence_keeps_the_lists_name_after_the_list_is_deleted(app):
    from mailapp.audience.gdpr import export_contact
    from mailapp.audience.lists import create_list, delete_list
    from mailapp.models import OptIn

    project = make_project()
    news = create_list(project.id, "Weekly news", actor=TEST_ACTOR, opt_in=OptIn.SINGLE)
    joined = subscribe(
        project.id, news.id, {"email": "ada@example.org"}, actor=TEST_ACTOR, source="form"
    )
    delete_list(project.id, news.id, actor=TEST_ACTOR)
    (consent,) = export_contact(project.id, joined.contact_id, actor=TEST_ACTOR)["consent"]
    assert (consent["list_id"], consent["list"], consent["source"]) == (None, "Weekly news", "form")
