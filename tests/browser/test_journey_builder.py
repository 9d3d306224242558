"""A marketer builds a three-step journey (email, wait 2 days, email) in the builder, saves it,
publishes it and sees it running, with each step's counts on its card."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.journeys.engine import wake_due
from mailapp.journeys.enrollment import enroll
from mailapp.models import Journey, JourneyStatus, JourneyVersion
from tests.factories import (
    make_contact,
    make_list,
    make_project,
    make_sender,
    make_template,
    make_user,
)
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def _project():
    project = make_project("acme")
    make_user(project, "marketer", email="marketer@example.com")
    news, welcome, tips = make_list(project), make_template(project), make_template(project)
    news.name, welcome.name, tips.name = "Newsletter", "Welcome", "Tips for week one"
    make_sender(project, name="News desk")
    db.session.commit()
    return project


def _add(page, index: int, kind: str) -> None:
    """Open the n-th "+" on the canvas and pick a step type."""
    page.locator("[data-role=add]").nth(index).click()
    page.click(f".jb-menu [data-type={kind}]")


def test_marketer_builds_and_publishes_a_three_step_journey(app, page, tmp_path):
    project = _project()
    log_in(page, "marketer@example.com")
    page.click("text=Journeys")
    page.wait_for_url("**/admin/journeys/")
    page.fill("#journey-name", "Newsletter welcome")
    page.check("input[name=starter][value=blank]")
    page.screenshot(path=tmp_path / "01-list.png", full_page=True)
    page.click("text=Create and open the builder")
    page.wait_for_selector("#journey-canvas .jb-trigger")

    # The trigger card is selected first: pick "joins a list" and the list, in words.
    page.select_option("#jp-trigger_type", "list_joined")
    page.select_option("#jp-list_id", label="Newsletter")
    assert "When someone joins Newsletter" in page.inner_text(".jb-trigger")
    page.screenshot(path=tmp_path / "02-trigger.png", full_page=True)

    _add(page, 0, "email")
    page.select_option("#jp-template_id", label="Welcome")
    page.select_option("#jp-sender_id", index=1)
    _add(page, 1, "wait")
    assert page.input_value("#jp-minutes") == "2"
    assert page.input_value("#jp-minutes_unit") == "days"
    _add(page, 2, "email")
    page.select_option("#jp-template_id", label="Tips for week one")
    cards = page.locator("#journey-canvas .jb-card:not(.jb-trigger):not([data-step=settings])")
    texts = cards.all_inner_texts()
    assert len(texts) == 3
    assert "Send “Welcome” from News desk" in texts[0]
    assert "Wait 2 days" in texts[1]
    assert "Send “Tips for week one”" in texts[2]
    # Top to bottom: each card sits below the one before it.
    boxes = [cards.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]
    page.screenshot(path=tmp_path / "03-three-steps.png", full_page=True)

    page.click(".jb-card[data-step=settings]")
    page.select_option("#jp-reentry", "after_days")
    page.fill("#jp-reentry_days", "60")
    page.fill("#jp-exit_on_event", "account_closed")
    rules = page.inner_text(".jb-card[data-step=settings]")
    assert "start it again 60 days after they last started" in rules
    assert "leaves on the event “account_closed”" in rules

    page.click("#save-draft")
    page.wait_for_selector("text=Draft saved")
    journey = db.session.scalars(sa.select(Journey)).one()
    db.session.refresh(journey)
    path, key = [], journey.graph["start"]
    while key:
        path.append(journey.graph["steps"][key])
        key = path[-1]["next"]
    assert [s["type"] for s in path] == ["email", "wait", "email"]
    assert path[1]["minutes"] == 2 * 24 * 60
    assert journey.settings["reentry"] == "after_days"
    assert journey.settings["reentry_days"] == 60
    assert journey.settings["exit_on_event"] == "account_closed"

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#publish")
    page.wait_for_selector("#journey-status:has-text('Running since')")
    page.wait_for_selector("[data-role=counts] >> nth=2")  # the published page's step cards
    page.screenshot(path=tmp_path / "04-published.png", full_page=True)
    counts = page.locator("[data-role=counts]").all_inner_texts()
    assert len(counts) == 3
    assert all("0 waiting · 0 passed · 0 left" in c for c in counts)
    assert page.locator("[data-role=report]").count() == 2  # each email's report
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).status is JourneyStatus.ACTIVE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JourneyVersion)) == 1

    # Once someone is in it, the step's card says so.
    ada = make_contact(project, "ada@example.org", first_name="Ada", timezone="Europe/Oslo")
    assert enroll(project, journey.id, [ada.id]) == 1
    page.reload()
    assert page.inner_text("[data-role=counts] >> nth=0").startswith("1 waiting · 0 passed")
    wake_due()  # the welcome email is handed to delivery; Ada now waits two days
    page.reload()
    counts = page.locator("[data-role=counts]").all_inner_texts()
    assert counts[0].startswith("0 waiting · 1 passed")
    assert counts[1].startswith("1 waiting")

    # Walk it for Ada: found by her name, her path in her own time zone.
    page.click("#walk-link")
    page.fill("#walk-q", "Ada")
    page.click("#walk-search button")
    page.click("#walk-found >> text=ada@example.org")
    path = page.locator("#walk-path li").all_inner_texts()
    assert "Send “Welcome”" in path[0]
    assert "happened" in path[0]
    assert "Wait 2 days" in path[-2]
    assert "Send “Tips for week one”" in path[-1]
    assert "Europe/Oslo" in page.inner_text("#walk-contact + p")
    assert page.inner_text("#walk-inside").startswith("In this journey since")
    page.screenshot(path=tmp_path / "05-walk.png", full_page=True)

    page.goto("/admin/journeys/")
    row = page.locator("#journeys tbody tr", has_text="Newsletter welcome")
    assert "Running since" in row.inner_text()
    assert "When someone joins Newsletter" in row.inner_text()
    page.screenshot(path=tmp_path / "06-running.png", full_page=True)


def test_a_starter_shows_its_branches_side_by_side(app, page, tmp_path):
    _project()
    log_in(page, "marketer@example.com")
    page.goto("/admin/journeys/")
    page.check("input[name=starter][value=abandoned_cart]")
    page.click("text=Create and open the builder")
    page.wait_for_selector("#journey-canvas .jb-trigger")
    assert "When your system reports the event “cart_abandoned”" in page.inner_text(".jb-trigger")
    arrived = page.locator(".jb-branch[data-branch=next]").first.bounding_box()
    late = page.locator(".jb-branch[data-branch=timeout_next]").first.bounding_box()
    assert arrived["y"] == late["y"]
    assert arrived["x"] + arrived["width"] <= late["x"]  # side by side, not stacked
    assert "Wait up to 1 day for “purchase”" in page.inner_text("#journey-canvas")
    page.click(".jb-card[data-step=bought]")
    assert page.inner_text("#panel-title") == "Wait"
    assert page.input_value("#jp-wait_event") == "purchase"
    page.screenshot(path=tmp_path / "starter-abandoned-cart.png", full_page=True)


def test_a_refused_publish_shows_the_problem_on_its_card(app, page, tmp_path):
    _project()
    log_in(page, "marketer@example.com")
    page.goto("/admin/journeys/")
    page.check("input[name=starter][value=reengagement]")
    page.click("text=Create and open the builder")
    page.wait_for_selector("#journey-canvas .jb-trigger")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#publish")
    page.wait_for_selector(".jb-trigger.jb-has-problem")
    assert "The trigger needs a campaign." in page.inner_text(".jb-trigger")
    assert "Before you can publish it, 1 thing needs fixing" in page.inner_text("#journey-message")
    assert page.inner_text("#journey-status") == "Draft"
    page.screenshot(path=tmp_path / "refused.png", full_page=True)
