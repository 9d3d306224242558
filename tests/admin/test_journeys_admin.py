"""The journeys back office: who may build and publish, CSRF, a refused save names the step and
saves nothing, publishing makes a version, and each step's counts reach the builder."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.journeys import journeys as service
from mailapp.journeys.engine import wake_due
from mailapp.journeys.enrollment import enroll
from mailapp.models import Journey, JourneyStatus, JourneyVersion
from tests.admin.conftest import csrf_token, login
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_list,
    make_project,
    make_sender,
    make_template,
    make_user,
)

DATA = re.compile(r'<script type="application/json" id="journey-data">(.*?)</script>', re.S)


def _three_steps(template_id: int, sender_id: int) -> dict:
    return {
        "start": "hello",
        "steps": {
            "hello": {
                "type": "email",
                "template_id": template_id,
                "sender_id": sender_id,
                "subject": None,
                "next": "pause",
            },
            "pause": {"type": "wait", "mode": "duration", "minutes": 2880, "next": "again"},
            "again": {
                "type": "email",
                "template_id": template_id,
                "sender_id": sender_id,
                "subject": None,
                "next": None,
            },
        },
    }


@pytest.fixture
def desk(client):
    project = make_project("acme")
    news, template, sender = make_list(project), make_template(project), make_sender(project)
    news.name, template.name = "Newsletter", "Welcome"
    db.session.commit()
    user = make_user(project, "marketer", email="marketer@example.com")
    login(client, user)
    return {
        "project": project,
        "list": news,
        "template": template,
        "sender": sender,
        "token": csrf_token(client),
        "user": user,
    }


def _journey(desk: dict, **fields: object) -> Journey:
    journey = service.create_journey(desk["project"], "Onboarding", actor=TEST_ACTOR, **fields)
    db.session.commit()
    return journey


def _builder_data(client, journey_id: int) -> dict:
    page = client.get(f"/admin/journeys/{journey_id}/")
    assert page.status_code == 200
    return json.loads(DATA.search(page.get_data(as_text=True)).group(1))


@pytest.mark.parametrize("role", ["analyst", "support"])
def test_analyst_and_support_may_not_see_or_change_journeys(app, client, role):
    project = make_project("acme")
    journey = service.create_journey(project, "Onboarding", actor=TEST_ACTOR)
    db.session.commit()
    login(client, make_user(project, role))
    token = csrf_token(client)
    assert client.get("/admin/journeys/").status_code == 403
    assert client.get(f"/admin/journeys/{journey.id}/").status_code == 403
    refused = client.post(
        f"/admin/journeys/{journey.id}/draft",
        json={"name": "Taken over"},
        headers={"X-CSRFToken": token},
    )
    assert refused.status_code == 403
    assert (
        client.post(
            "/admin/journeys/new", data={"csrf_token": token, "starter": "blank"}
        ).status_code
        == 403
    )
    for action in ("publish", "control", "add"):
        response = client.post(
            f"/admin/journeys/{journey.id}/{action}",
            data={"csrf_token": token, "verb": "stop", "segment_id": "1"},
        )
        assert response.status_code == 403, action
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).name == "Onboarding"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Journey)) == 1


def test_posts_without_a_csrf_token_are_refused(app, client, desk):
    journey = _journey(desk)
    assert client.post("/admin/journeys/new", data={"starter": "welcome"}).status_code == 400
    response = client.post(f"/admin/journeys/{journey.id}/draft", json={"name": "Changed"})
    assert response.status_code == 400
    response = client.post(f"/admin/journeys/{journey.id}/control", data={"verb": "stop"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).name == "Onboarding"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Journey)) == 1


def test_new_journey_from_the_welcome_starter_fills_the_project_list_and_template(
    app, client, desk
):
    response = client.post(
        "/admin/journeys/new", data={"csrf_token": desk["token"], "starter": "welcome"}
    )
    assert response.status_code == 302
    journey = db.session.scalars(sa.select(Journey)).one()
    assert response.headers["Location"].endswith(f"/admin/journeys/{journey.id}/")
    assert journey.name == "Welcome series"
    assert journey.trigger == {"type": "list_joined", "list_id": desk["list"].id}
    assert journey.graph["steps"]["welcome"]["template_id"] == desk["template"].id
    listing = client.get("/admin/journeys/").get_data(as_text=True)
    assert "When someone joins Newsletter" in listing
    assert "Draft" in listing
    for starter in ("Welcome series", "Re-engagement", "Birthday", "Abandoned cart", "Blank"):
        assert starter in listing


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"again": {"next": "hello"}},
            {"step": "again", "message": "leads back to “hello”: a loop never ends"},
        ),
        (
            {"pause": {"next": "gone"}},
            {"step": "pause", "message": "leads to “gone”, which is not a step"},
        ),
        (
            {"again": {"type": "teleport"}},
            {"step": "again", "message": "is not a step the builder knows"},
        ),
    ],
)
def test_refused_save_names_the_step_and_its_reason_and_saves_nothing(
    app, client, desk, change, expected
):
    graph = _three_steps(desk["template"].id, desk["sender"].id)
    journey = _journey(desk, graph=graph)
    broken = json.loads(json.dumps(graph))
    for key, fields in change.items():
        broken["steps"][key].update(fields)
    response = client.post(
        f"/admin/journeys/{journey.id}/draft",
        json={"name": "Renamed", "graph": broken},
        headers={"X-CSRFToken": desk["token"]},
    )
    assert response.status_code == 422
    assert response.get_json()["problems"] == [expected]
    db.session.expire_all()
    saved = db.session.get(Journey, journey.id)
    assert saved.name == "Onboarding"
    assert saved.graph == graph


def test_refused_save_says_why_and_saves_nothing(app, client, desk):
    graph = _three_steps(desk["template"].id, desk["sender"].id)
    journey = _journey(desk, graph=graph)
    changed = json.loads(json.dumps(graph))
    changed["steps"]["pause"]["minutes"] = 60
    response = client.post(
        f"/admin/journeys/{journey.id}/draft",
        json={"name": "  ", "graph": changed},
        headers={"X-CSRFToken": desk["token"]},
    )
    assert response.status_code == 422
    assert response.get_json()["problems"] == [
        {"step": None, "message": "a journey needs a name of at most 200 characters"}
    ]
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).graph == graph


def test_saved_draft_and_refused_publish_name_each_step_and_its_reason(app, client, desk):
    graph = _three_steps(desk["template"].id, desk["sender"].id)
    graph["steps"]["again"]["template_id"] = None
    journey = _journey(desk, graph=graph, trigger={"type": "list_joined", "list_id": None})
    saved = client.post(
        f"/admin/journeys/{journey.id}/draft",
        json={"graph": graph},
        headers={"X-CSRFToken": desk["token"]},
    ).get_json()
    assert saved["saved"] is True  # a half-built draft is kept ...
    assert {"step": "again", "message": "choose a template of this project"} in saved[
        "before_publish"
    ]  # ... and says on which card what is missing
    assert {"step": "trigger", "message": "the trigger needs a list of this project"} in saved[
        "before_publish"
    ]
    refused = client.post(
        f"/admin/journeys/{journey.id}/publish", json={}, headers={"X-CSRFToken": desk["token"]}
    )
    assert refused.status_code == 422
    assert refused.get_json()["problems"] == saved["before_publish"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JourneyVersion)) == 0


def test_save_then_publish_makes_version_one_and_the_list_says_running(app, client, desk):
    journey = _journey(desk)
    graph = _three_steps(desk["template"].id, desk["sender"].id)
    trigger = {"type": "list_joined", "list_id": desk["list"].id}
    saved = client.post(
        f"/admin/journeys/{journey.id}/draft",
        json={
            "name": "Onboarding",
            "trigger": trigger,
            "graph": graph,
            "settings": {"reentry": "once", "goal": None},
        },
        headers={"X-CSRFToken": desk["token"]},
    )
    assert saved.get_json() == {"saved": True, "before_publish": []}
    published = client.post(
        f"/admin/journeys/{journey.id}/publish", json={}, headers={"X-CSRFToken": desk["token"]}
    )
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["published"] == 1
    db.session.expire_all()
    version = db.session.scalars(sa.select(JourneyVersion)).one()
    assert version.graph == graph
    assert db.session.get(Journey, journey.id).status is JourneyStatus.ACTIVE
    listing = client.get("/admin/journeys/").get_data(as_text=True)
    assert "Running since" in listing
    page = client.get(f"/admin/journeys/{journey.id}/").get_data(as_text=True)
    assert "Contacts already in the journey keep the version they started" in page

    paused = client.post(
        f"/admin/journeys/{journey.id}/control", data={"csrf_token": desk["token"], "verb": "pause"}
    )
    assert paused.status_code == 302
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).status is JourneyStatus.PAUSED
    assert "Paused" in client.get("/admin/journeys/").get_data(as_text=True)


def test_builder_gets_each_steps_counts_and_the_email_report_link(app, client, desk):
    graph = _three_steps(desk["template"].id, desk["sender"].id)
    journey = _journey(desk, graph=graph, trigger={"type": "manual"})
    service.publish_journey(desk["project"], journey.id, actor=TEST_ACTOR)
    db.session.commit()
    contacts = [make_contact(desk["project"]).id for _ in range(3)]
    assert enroll(desk["project"], journey.id, contacts, actor=TEST_ACTOR) == 3
    db.session.commit()
    data = _builder_data(client, journey.id)
    assert data["published"] is True
    expected = service.step_counts(desk["project"], journey.id)
    assert data["counts"] == json.loads(json.dumps(expected))
    assert sum(n["waiting"] for n in data["counts"].values()) == 3
    assert set(data["reports"]) == {"hello", "again"}
    report = client.get(data["reports"]["hello"])
    assert report.status_code == 200
    listing = client.get("/admin/journeys/").get_data(as_text=True)
    assert re.search(r'<td class="text-right">3</td>\s*<td class="text-right">3</td>', listing)


def test_walk_finds_a_contact_by_name_and_shows_their_path_and_why(app, client, desk):
    graph = _three_steps(desk["template"].id, desk["sender"].id)
    graph["steps"]["pause"]["next"] = "opened"
    graph["steps"]["opened"] = {
        "type": "condition",
        "rule": {"engagement": {"step": "hello", "action": "opened"}},
        "yes": None,
        "no": "again",
    }
    journey = _journey(desk, graph=graph, trigger={"type": "manual"})
    ada = make_contact(desk["project"], "ada@example.org", first_name="Ada", timezone="Asia/Tokyo")
    make_contact(make_project("other"), "ada@other.example", first_name="Ada")
    walk = f"/admin/journeys/{journey.id}/walk"
    draft = client.get(walk, query_string={"contact_id": ada.id}).get_data(as_text=True)
    assert "Publish the journey first" in draft
    service.publish_journey(desk["project"], journey.id, actor=TEST_ACTOR)
    db.session.commit()

    text = client.get(walk, query_string={"q": "ADA"}).get_data(as_text=True)
    assert "ada@example.org" in text
    assert "ada@other.example" not in text  # another project's contact is never offered
    walked = client.get(walk, query_string={"q": "ada", "contact_id": ada.id})
    text = re.sub(r"\s+", " ", walked.get_data(as_text=True))
    assert "Path of ada@example.org" in text
    assert "Asia/Tokyo" in text
    steps = re.findall(r"<strong>(.*?)</strong>", text.split('id="walk-path"')[1])
    assert steps == ["Send “Welcome”", "Wait 2 days", "Has opened “Welcome”?", "Send “Welcome”"]
    assert "Has opened “Welcome”? → no" in text
    assert "JST" in text  # when, in the contact's own zone

    # Once in the journey, what already happened comes first, marked as such.
    assert enroll(desk["project"], journey.id, [ada.id], actor=TEST_ACTOR) == 1
    wake_due()
    walked = client.get(walk, query_string={"contact_id": ada.id}).get_data(as_text=True)
    done = walked.split('id="walk-path"')[1].split("list-group-item-light")
    assert len(done) >= 2
    assert "happened" in done[1]


def test_another_projects_journey_and_contact_stay_out_of_reach(app, client, desk):
    other = make_project("other")
    theirs = service.create_journey(other, "Theirs", actor=TEST_ACTOR)
    db.session.commit()
    stranger = make_contact(other, "stranger@other.example")
    mine = _journey(desk, trigger={"type": "manual"})
    base = f"/admin/journeys/{theirs.id}"
    headers = {"X-CSRFToken": desk["token"]}
    assert client.get(f"{base}/").status_code == 404
    assert client.get(f"{base}/walk").status_code == 404
    assert client.post(f"{base}/draft", json={"name": "Mine"}, headers=headers).status_code == 404
    assert client.post(f"{base}/publish", json={}, headers=headers).status_code == 404
    client.post(f"{base}/control", data={"csrf_token": desk["token"], "verb": "stop"})
    db.session.expire_all()
    assert db.session.get(Journey, theirs.id).name == "Theirs"
    assert db.session.get(Journey, theirs.id).status is JourneyStatus.DRAFT
    page = client.get(
        f"/admin/journeys/{mine.id}/walk", query_string={"contact_id": stranger.id}
    ).get_data(as_text=True)
    assert "stranger@other.example" not in page
    assert "Theirs" not in client.get("/admin/journeys/").get_data(as_text=True)


def test_start_the_journey_by_hand_for_one_contact_or_a_segment(app, client, desk):
    graph = _three_steps(desk["template"].id, desk["sender"].id)
    journey = _journey(desk, graph=graph, trigger={"type": "manual"})
    ada = make_contact(desk["project"], "ada@example.org")
    add = f"/admin/journeys/{journey.id}/add"
    refused = client.post(add, data={"csrf_token": desk["token"], "contact_id": ada.id})
    assert refused.status_code == 302  # a draft takes nobody in: said, not crashed
    service.publish_journey(desk["project"], journey.id, actor=TEST_ACTOR)
    db.session.commit()
    walk = client.get(f"/admin/journeys/{journey.id}/walk", query_string={"contact_id": ada.id})
    assert "Start the journey for this contact now" in walk.get_data(as_text=True)
    client.post(add, data={"csrf_token": desk["token"], "contact_id": ada.id})
    again = client.post(
        add, data={"csrf_token": desk["token"], "contact_id": ada.id}, follow_redirects=True
    )
    assert "Nobody entered: they are in it already" in again.get_data(as_text=True)
    assert service.step_counts(desk["project"], journey.id)["hello"]["waiting"] == 1
