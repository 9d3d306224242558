"""A marketer builds a segment from dropdowns, watches its count, saves it, sees it listed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.audience.segments.store import save_segment
from mailapp.extensions import db
from mailapp.models import Segment
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR, make_contact, make_list, make_project, make_user
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def _people(project) -> None:
    recently, long_ago = utcnow() - timedelta(days=3), utcnow() - timedelta(days=90)
    for city, opened in [
        ("Berlin", recently),
        ("Berlin", recently),
        ("Berlin", long_ago),
        ("Oslo", recently),
        ("Berlin", None),
    ]:
        make_contact(project, attributes={"city": city, "plan": "pro"}, last_opened_at=opened)


def _live(page, expected: str) -> str:
    page.wait_for_function(
        "t => document.getElementById('segment-count').textContent === t", arg=expected
    )
    return page.inner_text("#segment-live")


def test_marketer_builds_berliners_who_opened_lately_from_dropdowns(app, page, tmp_path):
    project = make_project("acme")
    make_user(project, "marketer", email="marketer@example.com")
    _people(project)
    log_in(page, "marketer@example.com")

    page.goto("/admin/segment/new/")
    assert page.inner_text("#segment-error") == ""  # a blank form shows no error
    assert "Add a condition" in page.inner_text("#segment-live")
    builder = page.locator("#segment-builder").bounding_box()
    save = page.locator("input[type=submit][value=Save]").bounding_box()
    assert builder["y"] + builder["height"] <= save["y"]  # the builder sits above Save
    assert not page.is_visible("textarea#rule")  # JSON only under "Advanced"
    page.screenshot(path=tmp_path / "01-blank.png", full_page=True)

    page.fill("input[name=name]", "Berliners who opened lately")
    first = page.locator(".b-cond").nth(0)
    first.locator("[data-role=field]").select_option("attributes.city")
    ops = first.locator("[data-role=op] option").all_inner_texts()
    assert "in the last" not in ops  # text operators only for a text attribute
    assert "is more than" not in ops
    first.locator("[data-role=op]").select_option("eq")
    first.locator("[data-role=value]").fill("Berlin")
    text = _live(page, "4")
    assert "4 contacts whose city is Berlin" in text
    page.screenshot(path=tmp_path / "02-city.png", full_page=True)

    page.click("[data-role=add-condition]")
    second = page.locator(".b-cond").nth(1)
    second.locator("[data-role=field]").select_option("last_opened_at")
    ops = second.locator("[data-role=op] option").all_inner_texts()
    assert "in the last" in ops
    assert "contains" not in ops
    second.locator("[data-role=op]").select_option("within_days")
    second.locator("[data-role=value]").fill("30")
    text = _live(page, "2")
    assert "2 contacts whose city is Berlin and who opened in the last 30 days" in text
    assert "contacts contacts" not in text
    page.screenshot(path=tmp_path / "03-opened.png", full_page=True)

    # A nested "any of" group: an unfinished condition says what is missing, in words.
    page.click("#b-root > .b-group > div > [data-role=add-group]")
    inner = page.locator(".b-group .b-group")
    inner.locator("[data-role=field]").select_option("tag")
    _live(page, "\u2013")  # the dash shown while nothing is counted
    assert page.inner_text("#segment-error") == "Condition 3 (Tag): enter a tag."
    page.screenshot(path=tmp_path / "04-unfinished.png", full_page=True)
    inner.locator("[data-role=value]").fill("vip")
    inner.locator("[data-role=add-condition]").click()
    plan = inner.locator(".b-cond").nth(1)
    plan.locator("[data-role=field]").select_option("attributes.plan")
    plan.locator("[data-role=value]").fill("pro")
    text = _live(page, "2")
    assert "(with tag vip or whose plan is pro)" in text
    page.screenshot(path=tmp_path / "05-group.png", full_page=True)
    inner.locator("[data-role=remove-group]").click()
    _live(page, "2")

    page.click("#segment-advanced summary")
    rule = page.input_value("textarea#rule")
    assert '"last_opened_at"' in rule
    page.screenshot(path=tmp_path / "06-advanced.png", full_page=True)

    page.click("input[type=submit][value=Save]")
    page.wait_for_url("**/admin/segment/")
    row = page.locator("tr", has_text="Berliners who opened lately")
    assert "2 contacts" in row.inner_text()
    assert "saved: 2 contacts whose city is Berlin" in page.inner_text(".alert-success")
    assert "counted" in row.inner_text()
    page.screenshot(path=tmp_path / "07-list.png", full_page=True)

    saved = db.session.scalar(sa.select(Segment))
    assert saved.rule == {
        "all": [
            {"field": "attributes.city", "op": "eq", "value": "Berlin"},
            {"field": "last_opened_at", "op": "within_days", "value": 30},
        ]
    }
    assert saved.last_count == 2


def test_editing_a_saved_segment_keeps_every_condition_as_saved(app, page, tmp_path):
    project = make_project("acme")
    make_user(project, "marketer", email="marketer@example.com")
    news = make_list(project, 2)
    make_contact(project, attributes={"age": "thirty", "beta": True})
    rule = {
        "any": [
            {"field": "list", "op": "in", "value": news.id, "status": "any"},
            {"field": "attributes.beta", "op": "eq", "value": True},
            {"field": "attributes.shoe", "op": "gt", "value": 40},
            {"field": "attributes.age", "op": "eq", "value": "30"},
            {
                "not": {
                    "any": [
                        {"field": "tag", "op": "has", "value": "vip"},
                        {"field": "created_at", "op": "not_within_days", "value": 365},
                    ]
                }
            },
            {"field": "soft_bounces", "op": "gte", "value": 2},
        ]
    }
    segment = save_segment(project.id, "Many kinds", rule, actor=TEST_ACTOR)
    log_in(page, "marketer@example.com")
    page.goto(f"/admin/segment/edit/?id={segment.id}")
    text = _live(page, "3")
    assert "excluding those with tag vip or who did not sign up in the last 365 days" in text
    assert page.inner_text("#segment-error") == ""
    assert json.loads(page.input_value("textarea#rule")) == rule
    page.screenshot(path=tmp_path / "01-edit.png", full_page=True)
