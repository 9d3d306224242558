"""Segments: each rule's members are computed independently in Python and compared."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.audience.lists import create_list
from mailapp.audience.segments.rules import InvalidRule, validate_rule
from mailapp.audience.segments.store import (
    count_rule,
    freeze_segment,
    recount_segment,
    save_segment,
    segment_query,
)
from mailapp.audience.suppression import suppress
from mailapp.extensions import db
from mailapp.models import (
    Contact,
    ContactStatus,
    ContactTag,
    ListMembership,
    MembershipStatus,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_project

CITIES = ["Berlin", "Moscow", "Oslo", None]
PLANS = ["pro", "free", None]
TAGS = ["webinar", "vip"]


def _population(project_id: int) -> tuple[list[dict], int, int]:
    """Sixty varied contacts; returns their Python view and two list ids."""
    rng = random.Random(7)  # noqa: S311 - repeatable test data
    now = utcnow()
    news = create_list(project_id, "News", actor=TEST_ACTOR).id
    promo = create_list(project_id, "Promo", actor=TEST_ACTOR).id
    people = []
    for i in range(60):
        attributes: dict = {}
        if city := rng.choice(CITIES):
            attributes["city"] = city
        if plan := rng.choice(PLANS):
            attributes["plan"] = plan
        if rng.random() < 0.7:
            attributes["age"] = rng.randint(15, 70)
        if rng.random() < 0.5:
            attributes["renewal"] = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if rng.random() < 0.3:
            attributes["beta"] = rng.random() < 0.5
        opened = now - timedelta(days=rng.randint(0, 90)) if rng.random() < 0.5 else None
        clicked = now - timedelta(days=rng.randint(0, 90)) if rng.random() < 0.3 else None
        person = {
            "email": f"p{i}@example.com",
            "status": rng.choice([ContactStatus.ACTIVE] * 5 + [ContactStatus.UNSUBSCRIBED]),
            "attributes": attributes,
            "timezone": rng.choice(["Europe/Berlin", "Asia/Tokyo", None]),
            "last_opened_at": opened,
            "last_clicked_at": clicked,
            "created_at": now - timedelta(days=rng.randint(0, 400)),
            "quarantined": rng.random() < 0.1,
            "lists": {
                lid: rng.choice(list(MembershipStatus))
                for lid in (news, promo)
                if rng.random() < 0.5
            },
            "tags": {t for t in TAGS if rng.random() < 0.3},
        }
        contact = Contact(
            project_id=project_id,
            email=person["email"],
            email_raw=person["email"],
            **{k: person[k] for k in ("status", "attributes", "timezone", "quarantined")},
            **{k: person[k] for k in ("last_opened_at", "last_clicked_at", "created_at")},
        )
        db.session.add(contact)
        db.session.flush()
        person["id"] = contact.id
        for lid, status in person["lists"].items():
            db.session.add(
                ListMembership(
                    project_id=project_id, list_id=lid, contact_id=contact.id, status=status
                )
            )
        for tag in person["tags"]:
            db.session.add(ContactTag(project_id=project_id, contact_id=contact.id, tag=tag))
        people.append(person)
    db.session.commit()
    # Suppressed while still "active": suppression must win on its own.
    suppressed = next(p for p in people if p["status"] is ContactStatus.ACTIVE)
    suppress(project_id, suppressed["email"], SuppressionReason.MANUAL, actor=TEST_ACTOR)
    suppressed["suppressed"] = True
    # An entry kept by its hash alone (as erasure leaves it) still wins.
    hashed = next(p for p in people if p["status"] is ContactStatus.ACTIVE and p is not suppressed)
    entry = suppress(project_id, hashed["email"].upper(), SuppressionReason.MANUAL,
                     actor=TEST_ACTOR, commit=False)  # fmt: skip
    entry.email = None
    db.session.commit()
    hashed["suppressed"] = True
    return people, news, promo


def _eligible(p: dict, include_quarantined: bool = False) -> bool:
    return (
        p["status"] is ContactStatus.ACTIVE
        and not p.get("suppressed")
        and (include_quarantined or not p["quarantined"])
    )


def _num(p: dict, key: str):
    value = p["attributes"].get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _days_ago(when, days: int) -> bool:
    return when is not None and when >= utcnow() - timedelta(days=days)


def _cases(news: int, promo: int) -> list[tuple[dict, object]]:
    return [
        (
            {
                "all": [
                    {"field": "attributes.plan", "op": "eq", "value": "pro"},
                    {"field": "attributes.city", "op": "eq", "value": "Berlin"},
                ]
            },
            lambda p: (
                p["attributes"].get("plan") == "pro" and p["attributes"].get("city") == "Berlin"
            ),
        ),
        (
            {"field": "attributes.age", "op": "gte", "value": 30},
            lambda p: (_num(p, "age") or -1) >= 30,
        ),
        (
            {"not": {"field": "attributes.age", "op": "lt", "value": 40}},
            lambda p: not (_num(p, "age") is not None and _num(p, "age") < 40),
        ),
        (
            {"field": "attributes.renewal", "op": "before", "value": "2025-06-15"},
            lambda p: "renewal" in p["attributes"] and p["attributes"]["renewal"] < "2025-06-15",
        ),
        (
            {"field": "attributes.city", "op": "is_not_set"},
            lambda p: "city" not in p["attributes"],
        ),
        (
            {"field": "attributes.beta", "op": "eq", "value": True},
            lambda p: p["attributes"].get("beta") is True,
        ),
        (
            {"field": "attributes.city", "op": "in", "value": ["Oslo", "Moscow"]},
            lambda p: p["attributes"].get("city") in ("Oslo", "Moscow"),
        ),
        (
            {"field": "list", "op": "in", "value": news},
            lambda p: p["lists"].get(news) is MembershipStatus.CONFIRMED,
        ),
        (
            {"field": "list", "op": "in", "value": promo, "status": "any"},
            lambda p: promo in p["lists"],
        ),
        (
            {"field": "list", "op": "not_in", "value": news, "status": "unconfirmed"},
            lambda p: p["lists"].get(news) is not MembershipStatus.UNCONFIRMED,
        ),
        (
            {
                "all": [
                    {"field": "tag", "op": "has", "value": "webinar"},
                    {"field": "engagement", "op": "opened_or_clicked_within_days", "value": 30},
                ]
            },
            lambda p: (
                "webinar" in p["tags"]
                and (_days_ago(p["last_opened_at"], 30) or _days_ago(p["last_clicked_at"], 30))
            ),
        ),
        (
            {"field": "last_opened_at", "op": "is_not_set"},
            lambda p: p["last_opened_at"] is None,
        ),
        (
            {"field": "created_at", "op": "within_days", "value": 100},
            lambda p: _days_ago(p["created_at"], 100),
        ),
        (
            {
                "any": [
                    {"field": "timezone", "op": "eq", "value": "Asia/Tokyo"},
                    {"not": {"field": "tag", "op": "has", "value": "vip"}},
                ]
            },
            lambda p: p["timezone"] == "Asia/Tokyo" or "vip" not in p["tags"],
        ),
        (
            {
                "all": [
                    {"field": "attributes.city", "op": "eq", "value": "Berlin"},
                    {"field": "list", "op": "in", "value": news},
                    {"field": "last_clicked_at", "op": "within_days", "value": 60},
                ]
            },
            lambda p: (
                p["attributes"].get("city") == "Berlin"
                and p["lists"].get(news) is MembershipStatus.CONFIRMED
                and _days_ago(p["last_clicked_at"], 60)
            ),
        ),
    ]


def test_rules_match_python_evaluation(app) -> None:
    with app.app_context():
        project = make_project()
        people, news, promo = _population(project.id)
        for rule, predicate in _cases(news, promo):
            expected = {p["id"] for p in people if _eligible(p) and predicate(p)}
            got = set(db.session.scalars(segment_query(project.id, rule)))
            assert got == expected, rule
            assert count_rule(project.id, rule) == len(expected)
            with_quarantine = {
                p["id"] for p in people if _eligible(p, include_quarantined=True) and predicate(p)
            }
            query = segment_query(project.id, rule, include_quarantined=True)
            assert set(db.session.scalars(query)) == with_quarantine, rule


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (None, "Add at least one condition."),
        ({}, "Add at least one condition."),
        ({"all": []}, "Add at least one condition."),
        # The builder's untouched starting row must never reach the server as a condition;
        # if it does, the message says what to do, not where in the JSON.
        ({"all": [{}]}, "Condition 1: choose a field."),
        (
            {
                "all": [
                    {"field": "attributes.city", "op": "eq", "value": "Berlin"},
                    {"field": "tag"},
                ]
            },
            "Condition 2 (Tag): choose an operator.",
        ),
        (
            {"all": [{"field": "tag", "op": "has", "value": "x"}, {"any": []}]},
            "A group has no conditions: add one or remove the group (at rule.all[1]).",
        ),
        (
            {"field": "attributes.age", "op": "gt", "value": "ten"},
            "Condition 1 (age): the value must be a number.",
        ),
        ({"field": "attributes.a'b", "op": "eq", "value": "x"}, "attribute names use letters"),
        ({"field": "attributes.", "op": "eq", "value": "x"}, "enter the attribute's name"),
        (
            {"field": "shoe_size", "op": "eq", "value": "x"},
            "Condition 1: unknown field 'shoe_size'",
        ),
        (
            {"field": "email", "op": "gt", "value": "x"},
            "Condition 1 (Email address): unknown operator 'gt' here; choose one of: is, is not,",
        ),
        ({"field": "list", "op": "in", "value": "news"}, "Condition 1 (List): choose a list"),
        ({"field": "list", "op": "has", "value": 1}, "unknown operator 'has'"),
        ({"field": "created_at", "op": "before", "value": "yesterday"}, "such as 2024-05-01"),
        ({"field": "created_at", "op": "within_days", "value": 0}, "whole number of days"),
        (
            {"field": "email", "op": "eq", "value": ""},
            "Condition 1 (Email address): enter a value.",
        ),
        ({"field": "tag", "op": "has"}, "Condition 1 (Tag): enter a tag."),
        ("everyone", "must be a condition or a group (all/any/not), not a text."),
    ],
)
def test_invalid_rules_are_refused_in_plain_words(rule, reason: str) -> None:
    with pytest.raises(InvalidRule) as refused:
        validate_rule(rule)
    assert reason in str(refused.value)
    assert "rule.all[0]" not in str(refused.value)  # conditions are named by number


def test_recount_reports_entered_and_left_and_freeze(app) -> None:
    with app.app_context():
        project = make_project()
        people, _news, _ = _population(project.id)
        rule = {"field": "attributes.city", "op": "eq", "value": "Berlin"}
        segment = save_segment(project.id, "Berliners", rule, actor=TEST_ACTOR)
        first = recount_segment(project.id, segment.id, actor=TEST_ACTOR)
        expected = {
            p["id"] for p in people if _eligible(p) and p["attributes"].get("city") == "Berlin"
        }
        assert (first.count, first.entered, first.left) == (len(expected), len(expected), 0)

        leaving = sorted(expected)[:2]
        db.session.execute(
            sa.update(Contact).where(Contact.id.in_(leaving)).values(attributes={"city": "Oslo"})
        )
        joining = next(p for p in people if _eligible(p) and p["id"] not in expected)
        db.session.execute(
            sa.update(Contact)
            .where(Contact.id == joining["id"])
            .values(attributes={"city": "Berlin"})
        )
        db.session.commit()
        second = recount_segment(project.id, segment.id, actor=TEST_ACTOR)
        assert (second.count, second.entered, second.left) == (len(expected) - 1, 1, 2)

        snapshot = freeze_segment(project.id, segment.id, "Berliners today", actor=TEST_ACTOR)
        members = set(
            db.session.scalars(
                sa.select(ListMembership.contact_id).where(ListMembership.list_id == snapshot.id)
            )
        )
        assert members == (expected - set(leaving)) | {joining["id"]}
