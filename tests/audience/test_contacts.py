"""Contacts: normalization, quality labels, upserts under each duplicate policy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from mailapp.audience.addresses import (
    InvalidContact,
    _plain_address,
    normalize_email,
    validate_timezone,
)
from mailapp.audience.contact_reads import contact_detail, list_contacts
from mailapp.audience.contacts import (
    delete_contact,
    quarantine_soft_bouncers,
    upsert_contact,
    upsert_contacts,
)
from mailapp.audience.suppression import suppress
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, Contact, ContactStatus, DuplicatePolicy, SuppressionReason
from tests.factories import TEST_ACTOR, make_contact, make_project


def test_normalize_lowercases_the_whole_address_and_raw_keeps_the_typing() -> None:
    address = normalize_email("  John.Doe@Example.COM ")
    assert address.email == "john.doe@example.com"
    assert address.raw == "John.Doe@Example.COM"
    assert not address.is_role
    assert not address.is_disposable


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@b", "two@@example.com", "x@-bad-.com"])
def test_normalize_refuses_invalid(bad: str) -> None:
    with pytest.raises(InvalidContact):
        normalize_email(bad)


TRICKY_ADDRESSES = [
    "ann@example.com", "Ann.Lee+news@Example.COM", "a_b%c-d@mail.example.co.uk", "x@a1.io",
    "john..doe@example.com", ".john@example.com", "john.@example.com", "a@.example.com",
    "a@example..com", "a@example.com.", "a@-example.com", "a@example-.com", "a@ex-ample.com",
    "a@example.123", "a@example.c0m", "a@123.example", "a@1.2.3.4", "a@[127.0.0.1]",
    "a@" + "b" * 64 + ".com", "a@" + "b" * 63 + ".com", "a" * 64 + "@example.com",
    "a" * 65 + "@example.com", "a" * 60 + "." + "b" * 10 + "@example.com",
    "a@" + ".".join(["c" * 63] * 3) + "." + "d" * 57 + ".com",
    "a@" + ".".join(["c" * 60] * 4) + ".com", "a@host.local", "a@host.test", "a@x.invalid",
    "a@localhost", "a@example.onion", "a@x.home.arpa", "a@Example.TEST", "a@xn--bcher-kva.de",
    "a@bücher.de", "ü@example.com", "a@ab--cd.com", '"john doe"@example.com',
    '"a"@example.com', "a b@example.com", "a@b", "a@example", "a!b@example.com",
    "a/b@example.com", "a@exam_ple.com", "a@@example.com", "@example.com", "a@",
    "first.last@sub.domain.example.museum", "a@x.y", "a@example.co", "A@EXAMPLE.com",
]  # fmt: skip


@pytest.mark.parametrize("given", TRICKY_ADDRESSES)
def test_fast_address_check_accepts_only_what_email_validator_accepts(given: str) -> None:
    """The fast path is a strict subset: whatever it accepts, email-validator accepts the same."""
    plain = _plain_address(given)
    try:
        expected = validate_email(given, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    if plain is not None:
        assert expected is not None, f"fast path accepted {given!r}, email-validator refuses it"
        local, domain = expected.rpartition("@")[::2]
        assert plain == (local, domain.lower())
    # Either way, normalize_email agrees with email-validator on accepting the address.
    try:
        normalize_email(given)
        accepted = True
    except InvalidContact:
        accepted = False
    assert accepted == (expected is not None)


def test_fast_address_check_settles_ordinary_addresses() -> None:
    assert _plain_address("Ann.Lee+news@Example.COM") == ("Ann.Lee+news", "example.com")
    assert _plain_address("a@host.local") is None  # special-use: email-validator words it


def test_quality_labels() -> None:
    assert normalize_email("Info@example.com").is_role
    assert normalize_email("someone@mailinator.com").is_disposable


def test_timezone_validation() -> None:
    assert validate_timezone(" Europe/Berlin ") == "Europe/Berlin"
    assert validate_timezone("") is None
    with pytest.raises(InvalidContact, match="IANA"):
        validate_timezone("Mars/Olympus")


def test_upsert_creates_then_merges_attributes(app) -> None:
    with app.app_context():
        project = make_project()
        contact, created = upsert_contact(
            project.id,
            {"email": "Ann@Example.com", "first_name": "Ann", "attributes": {"plan": "pro"}},
            actor=TEST_ACTOR,
        )
        assert created
        assert (contact.email, contact.email_raw) == ("ann@example.com", "Ann@Example.com")
        same, created = upsert_contact(
            project.id,
            {"email": "ANN@example.COM", "attributes": {"city": "Oslo"}, "first_name": None},
            actor=TEST_ACTOR,
        )
        assert not created  # the same person, whatever the case
        assert same.id == contact.id
        assert same.email_raw == "ANN@example.COM"  # shown as last typed
        assert same.attributes == {"plan": "pro", "city": "Oslo"}
        assert same.first_name == "Ann"  # missing values keep what is there


def test_bulk_policies(app) -> None:
    with app.app_context():
        project = make_project()
        make_contact(project, "a@example.com", first_name="Old", attributes={"k": "old"})
        make_contact(project, "b@example.com", attributes={"k": "old"})
        result = upsert_contacts(
            project.id,
            [
                {"email": "a@example.com", "first_name": "New", "attributes": {"k": "new", "n": 1}},
                {"email": "c@example.com"},
                {"email": "not an email"},
            ],
            actor=TEST_ACTOR,
            policy=DuplicatePolicy.FILL_EMPTY,
        )
        assert (result.counts.created, result.counts.updated) == (1, 1)
        assert result.errors == [{"index": 2, "error": result.errors[0]["error"]}]
        a = db.session.scalar(sa.select(Contact).where(Contact.email == "a@example.com"))
        db.session.refresh(a)
        assert a.first_name == "Old"
        assert a.attributes == {"k": "old", "n": 1}

        result = upsert_contacts(
            project.id,
            [{"email": "b@example.com", "attributes": {"k": "new"}}],
            actor=TEST_ACTOR,
            policy=DuplicatePolicy.SKIP,
        )
        assert (result.counts.created, result.counts.updated, result.counts.skipped) == (0, 0, 1)
        b = db.session.scalar(sa.select(Contact).where(Contact.email == "b@example.com"))
        assert b.attributes == {"k": "old"}


def test_bulk_limit_and_suppressed_never_reactivated(app) -> None:
    with app.app_context():
        project = make_project()
        with pytest.raises(ServiceError, match="at most 1000"):
            upsert_contacts(project.id, [{"email": "x@example.com"}] * 1001, actor=TEST_ACTOR)
        gone = make_contact(project, "gone@example.com")
        suppress(project.id, "gone@example.com", SuppressionReason.UNSUBSCRIBE, actor=TEST_ACTOR)
        result = upsert_contacts(
            project.id, [{"email": "gone@example.com", "first_name": "Back"}], actor=TEST_ACTOR
        )
        assert result.errors == [{"email": "gone@example.com", "error": "suppressed"}]
        db.session.refresh(gone)
        assert gone.status is ContactStatus.UNSUBSCRIBED
        assert gone.first_name is None
        with pytest.raises(ServiceError, match="suppressed"):
            upsert_contact(project.id, {"email": "gone@example.com"}, actor=TEST_ACTOR)


def test_role_and_disposable_are_quarantined(app) -> None:
    with app.app_context():
        project = make_project()
        role, _ = upsert_contact(project.id, {"email": "sales@example.com"}, actor=TEST_ACTOR)
        throwaway, _ = upsert_contact(project.id, {"email": "x@mailinator.com"}, actor=TEST_ACTOR)
        person, _ = upsert_contact(project.id, {"email": "eve@example.com"}, actor=TEST_ACTOR)
        assert role.is_role_address
        assert role.quarantined
        assert throwaway.is_disposable
        assert throwaway.quarantined
        assert not person.quarantined
        make_contact(project, "soft@example.com", soft_bounces=4)
        assert quarantine_soft_bouncers(project.id, 3, actor=TEST_ACTOR) == 1


def test_detail_delete_list_and_audit(app) -> None:
    with app.app_context():
        project = make_project()
        other = make_project()
        contacts = [make_contact(project, f"p{i}@example.com") for i in range(5)]
        make_contact(other, "p0@example.com")
        detail = contact_detail(project.id, contacts[0].id)
        assert detail.contact.id == contacts[0].id
        assert detail.suppression is None
        page = list_contacts(project.id, limit=2)
        assert [c.id for c in page] == [contacts[0].id, contacts[1].id]
        page = list_contacts(project.id, after_id=page[-1].id, limit=10)
        assert len(page) == 3
        assert len(list_contacts(project.id, email_contains="p3")) == 1
        delete_contact(project.id, contacts[0].id, actor=TEST_ACTOR)
        assert len(list_contacts(project.id)) == 4
        actions = db.session.scalars(sa.select(AuditLog.action)).all()
        assert "contact.delete" in actions
