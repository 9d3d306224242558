"""The one table of fields and operators: everything the builder offers compiles, nothing else
does, and the builder's dropdowns list this project's attributes, lists and tags."""

from __future__ import annotations

import pytest

from mailapp.audience.segments.choices import builder_choices
from mailapp.audience.segments.descriptions import describe_count, describe_rule
from mailapp.audience.segments.fields import (
    FIELDS,
    KIND_OPERATORS,
    catalogue,
    operators_for,
)
from mailapp.audience.segments.rules import InvalidRule, validate_rule
from mailapp.audience.segments.store import count_rule, save_segment
from mailapp.audience.tags import tag_contacts
from tests.factories import TEST_ACTOR, make_contact, make_list, make_project

SAMPLES = {
    "text": "Berlin",
    "texts": ["Berlin", "Oslo"],
    "number": 3,
    "date": "2024-05-01",
    "days": 30,
    "boolean": True,
    "tag": "vip",
}
ATTRIBUTE_FIELD = {
    "attribute_text": "attributes.city",
    "attribute_number": "attributes.age",
    "attribute_date": "attributes.renewal",
    "attribute_boolean": "attributes.beta",
}


def _every_offered_condition(list_id: int) -> list[dict]:
    fields = [(f.field, f.kind) for f in FIELDS] + [(f, k) for k, f in ATTRIBUTE_FIELD.items()]
    conditions = []
    for field, kind in fields:
        for operator in KIND_OPERATORS[kind]:
            condition = {"field": field, "op": operator.op}
            if operator.value == "list":
                condition["value"] = list_id
            elif operator.value != "none":
                condition["value"] = SAMPLES[operator.value]
            conditions.append(condition)
    return conditions


def test_every_operator_the_builder_offers_counts_and_reads_in_words(app) -> None:
    project = make_project()
    news = make_list(project, 2)
    make_contact(project, attributes={"city": "Berlin", "age": 4, "beta": True})
    for condition in _every_offered_condition(news.id):
        assert count_rule(project.id, condition) >= 0, condition
        words = describe_rule(project.id, condition)
        assert words.startswith("contacts "), words
        assert "_" not in words.removeprefix("contacts "), words


@pytest.mark.parametrize(
    ("field", "op"),
    [
        ("email", "gt"),
        ("email", "within_days"),
        ("created_at", "eq"),
        ("created_at", "contains"),
        ("list", "has"),
        ("tag", "in"),
        ("tag", "eq"),
        ("engagement", "within_days"),
        ("soft_bounces", "contains"),
        ("attributes.city", "has"),
        ("attributes.city", "within_days"),
    ],
)
def test_an_operator_outside_the_fields_kind_is_refused(field: str, op: str) -> None:
    assert op not in operators_for(field)
    with pytest.raises(InvalidRule, match="unknown operator"):
        validate_rule({"field": field, "op": op, "value": 1})


def test_each_kind_offers_only_its_own_operators() -> None:
    table = catalogue()
    every = {o["op"] for ops in table["kinds"].values() for o in ops}
    assert len(every) >= 20
    for kind, ops in table["kinds"].items():
        assert len(ops) <= 10, kind  # never the whole list, whatever the field
        assert len({o["op"] for o in ops}) == len(ops), kind
    assert {o["op"] for o in table["kinds"]["text"]}.isdisjoint({"gt", "before", "within_days"})
    assert {o["op"] for o in table["kinds"]["activity"]} >= {"within_days", "before", "after"}
    assert all(f["kind"] in table["kinds"] for f in table["fields"])
    # "hard-bounced" matches no mailable contact: still valid in saved rules, not offered.
    engagement = {o["op"]: o for o in table["kinds"]["engagement"]}
    assert engagement["hard_bounced"]["offered"] is False
    assert all(ops[0]["offered"] for ops in table["kinds"].values())


def test_description_reads_once_with_its_count(app) -> None:
    project = make_project()
    rule = {
        "all": [
            {"field": "attributes.city", "op": "eq", "value": "Berlin"},
            {"field": "last_sent_at", "op": "not_within_days", "value": 7},
        ]
    }
    words = describe_rule(project.id, rule)
    assert words == "contacts whose city is Berlin and who were not mailed in the last 7 days"
    assert describe_count(2431, words) == (
        "2,431 contacts whose city is Berlin and who were not mailed in the last 7 days"
    )
    assert describe_count(1, words).startswith("1 contact whose")
    assert "contacts contacts" not in describe_count(5, words)


def test_builder_choices_list_this_projects_attributes_lists_and_tags(app) -> None:
    project, other = make_project(), make_project()
    news = make_list(project, 0)
    make_list(other, 0)
    people = [
        make_contact(project, attributes={"city": "Berlin", "age": 31, "renewal": "2025-01-02"}),
        make_contact(project, attributes={"city": "Oslo", "age": 40, "beta": False}),
        make_contact(project, attributes={"city": "Berlin", "nested": {"x": 1}}, locale="de"),
        make_contact(other, attributes={"secret_key": "theirs"}),
    ]
    tag_contacts(project.id, [people[0].id, people[1].id], "vip", actor=TEST_ACTOR)
    tag_contacts(project.id, [people[2].id], "alpha", actor=TEST_ACTOR)
    tag_contacts(project.id, [people[1].id], "webinar", actor=TEST_ACTOR)
    tag_contacts(other.id, [people[3].id], "their-tag", actor=TEST_ACTOR)
    save_segment(
        project.id, "Legacy", {"field": "attributes.plan", "op": "eq", "value": "pro"},
        actor=TEST_ACTOR,
    )  # fmt: skip
    choices = builder_choices(project.id)
    attributes = {a["key"]: a for a in choices["attributes"]}
    assert list(attributes)[:2] == ["city", "age"]  # most used first
    assert attributes["city"]["kind"] == "attribute_text"
    assert attributes["city"]["values"] == ["Berlin", "Oslo"]
    assert attributes["age"]["kind"] == "attribute_number"
    assert attributes["renewal"]["kind"] == "attribute_date"
    assert attributes["beta"]["kind"] == "attribute_boolean"
    assert "plan" in attributes  # used by a saved segment, though no contact has it now
    assert "nested" not in attributes
    assert "secret_key" not in attributes
    assert choices["lists"] == [{"id": news.id, "name": news.name}]
    assert choices["tags"] == ["alpha", "vip", "webinar"]
    assert choices["suggestions"]["locale"] == ["de"]


def test_saving_a_segment_counts_it(app) -> None:
    project = make_project()
    make_contact(project, attributes={"city": "Berlin"})
    make_contact(project, attributes={"city": "Oslo"})
    segment = save_segment(
        project.id, "Berlin", {"field": "attributes.city", "op": "eq", "value": "Berlin"},
        actor=TEST_ACTOR,
    )  # fmt: skip
    assert segment.last_count == 1
    assert segment.last_counted_at is not None


def test_none_of_a_group_reads_as_excluding(app) -> None:
    project = make_project()
    tag = {"field": "tag", "op": "has", "value": "vip"}
    city = {"field": "attributes.city", "op": "eq", "value": "Oslo"}
    assert describe_rule(project.id, {"not": {"any": [tag, city]}}) == (
        "contacts excluding those with tag vip or whose city is Oslo"
    )
    assert describe_rule(project.id, {"all": [city, {"not": {"any": [tag]}}]}) == (
        "contacts whose city is Oslo and excluding those with tag vip"
    )
    assert describe_rule(project.id, {"all": [city, {"not": {"all": [tag, city]}}]}) == (
        "contacts whose city is Oslo and (excluding those with tag vip and whose city is Oslo)"
    )
