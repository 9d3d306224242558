"""The segment builder page: blank form, validation in words, live preview, counts in the list."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from mailapp.audience.segments.store import save_segment
from mailapp.extensions import db
from mailapp.models import AuditLog, Segment
from tests.admin.conftest import TOKEN, login
from tests.factories import TEST_ACTOR, make_contact, make_list, make_project, make_user

BERLIN = {"field": "attributes.city", "op": "eq", "value": "Berlin"}


def _token(page: bytes) -> str:
    return TOKEN.search(page).group(1).decode()


def _builder_data(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="builder-data">(.*?)</script>', html, re.S
    )
    return json.loads(found.group(1))


def _marketer(client, **contacts_by_city: int):
    project = make_project()
    for city, n in contacts_by_city.items():
        for _ in range(n):
            make_contact(project, attributes={"city": city})
    login(client, make_user(project, "marketer"))
    return project


def _save(client, rule: object, name: str = "Berliners"):
    form = client.get("/admin/segment/new/")
    raw = rule if isinstance(rule, str) else json.dumps(rule)
    return client.post(
        "/admin/segment/new/",
        data={"csrf_token": _token(form.data), "name": name, "rule": raw},
        follow_redirects=True,
    )


def test_blank_form_has_the_builder_above_save_and_no_error(app, client) -> None:
    project = _marketer(client, Berlin=1)
    other = make_project()
    make_list(other, 0).name = "Their secret list"
    news = make_list(project, 0)
    db.session.commit()
    html = client.get("/admin/segment/new/").get_data(as_text=True)
    assert "expected an object" not in html
    assert "NoneType" not in html
    assert html.index('id="segment-builder"') < html.index('value="Save"')
    details = html.split('id="segment-advanced"', 1)[1].split("</details>", 1)[0]
    assert 'name="rule"' in details  # the JSON only under "Advanced"
    data = _builder_data(html)
    assert [a["key"] for a in data["attributes"]] == ["city"]
    assert data["lists"] == [{"id": news.id, "name": news.name}]
    assert "Their secret list" not in html
    assert all(len(ops) < 25 for ops in data["kinds"].values())


def test_save_refuses_in_plain_words_and_saves_nothing(app, client) -> None:
    _marketer(client, Berlin=1)
    cases = [
        ({"all": []}, "Add at least one condition."),
        ({"all": [{}]}, "Condition 1: choose a field."),
        ({"all": [BERLIN, {"field": "tag"}]}, "Condition 2 (Tag): choose an operator."),
        ({"all": [BERLIN, {"field": "last_opened_at", "op": "within_days"}]}, "whole number"),
    ]
    for rule, message in cases:
        page = _save(client, rule)
        assert page.status_code == 200
        assert message in page.get_data(as_text=True), rule
        assert "rule.all[" not in page.get_data(as_text=True)
    broken = _save(client, '{"all": [')
    assert broken.status_code == 200
    assert "Invalid JSON" in broken.get_data(as_text=True)
    nameless = _save(client, BERLIN, name="")
    assert nameless.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Segment)) == 0


def test_saved_segment_is_counted_and_listed_with_when(app, client) -> None:
    project = _marketer(client, Berlin=2, Oslo=1)
    page = _save(client, {"all": [BERLIN]})
    assert "saved: 2 contacts whose city is Berlin" in page.get_data(as_text=True)
    assert "Record was successfully" not in page.get_data(as_text=True)  # ours alone
    segment = db.session.scalar(sa.select(Segment))
    assert (segment.last_count, segment.last_counted_at is not None) == (2, True)
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "segment.create"))
    assert audit.context["count"] == 2
    save_segment(project.id, "Old", BERLIN, actor=TEST_ACTOR)
    db.session.execute(sa.update(Segment).where(Segment.name == "Old").values(last_count=None))
    db.session.commit()
    listing = client.get("/admin/segment/").get_data(as_text=True)
    rows = listing.split("<tr")
    row = next(r for r in rows if "Berliners" in r)
    assert '<strong class="segment-count">2</strong> contacts' in row
    assert "counted " in row
    assert "contacts whose city is Berlin" in row
    assert "not counted yet" in next(r for r in rows if "Old" in r and "Berliners" not in r)

    edit = client.get(f"/admin/segment/edit/?id={segment.id}").get_data(as_text=True)
    assert "attributes.city" in edit
    assert "expected an object" not in edit


def test_preview_counts_describes_and_explains(app, client) -> None:
    _marketer(client, Berlin=2, Oslo=1)
    headers = {"X-CSRFToken": _token(client.get("/admin/segment/new/").data)}
    ok = client.post("/admin/segment/preview", json={"rule": BERLIN}, headers=headers).json
    assert ok == {
        "count": 2,
        "description": "contacts whose city is Berlin",
        "summary": "2 contacts whose city is Berlin",
    }
    one = {"field": "attributes.city", "op": "eq", "value": "Oslo"}
    assert client.post("/admin/segment/preview", json={"rule": one}, headers=headers).json[
        "summary"
    ] == ("1 contact whose city is Oslo")
    unfinished = {"all": [BERLIN, {"field": "attributes.city", "op": "in", "value": []}]}
    answer = client.post("/admin/segment/preview", json={"rule": unfinished}, headers=headers)
    assert answer.status_code == 200
    assert answer.json == {
        "error": "Condition 2 (city): enter at least one value (separate values with commas)."
    }
    assert client.post("/admin/segment/preview", data="x", headers=headers).status_code == 400
    assert client.post("/admin/segment/preview", json={"rule": BERLIN}).status_code == 400  # CSRF


def test_analyst_may_read_segments_but_not_build_them(app, client) -> None:
    project = make_project()
    save_segment(project.id, "Berliners", BERLIN, actor=TEST_ACTOR)
    login(client, make_user(project, "analyst"))
    assert client.get("/admin/segment/").status_code == 200
    assert client.get("/admin/segment/new/").status_code == 403


def test_preview_also_answers_a_rule_in_the_query_string(app, client) -> None:
    _marketer(client, Berlin=2)
    answer = client.get("/admin/segment/preview", query_string={"rule": json.dumps(BERLIN)})
    assert answer.json["count"] == 2
    assert client.get("/admin/segment/preview?rule={").status_code == 400


def test_details_read_in_words_with_the_count_and_when(app, client) -> None:
    project = _marketer(client, Berlin=1)
    segment = save_segment(project.id, "B", BERLIN, actor=TEST_ACTOR, description="for the fair")
    html = client.get(f"/admin/segment/details/?id={segment.id}").get_data(as_text=True)
    assert "contacts whose city is Berlin" in html
    assert '<strong class="segment-count">1</strong> contact<br>' in html
    assert html.count("for the fair") == 1
    assert "+00:00" not in html  # no raw timestamps
