"""A marketer creates a campaign through the steps, reads the review with its ETA and
audience count, confirms, and sees it scheduled; Back never offers Launch again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailapp.delivery import readings
from mailapp.extensions import db
from mailapp.models import Campaign, Event, EventType
from tests.factories import (
    make_campaign,
    make_contact,
    make_delivery,
    make_list,
    make_project,
    make_sender,
    make_sent_campaign,
    make_template,
    make_user,
)
from tests.support.browser import log_in
from tests.support.campaigns import next_tuesday_morning, shown
from tests.support.pipeline import run_queue
from workers.actors.sending import count_audience

pytestmark = pytest.mark.browser


def test_create_review_and_launch_a_campaign(app, page, tmp_path):
    project = make_project()
    project.timezone = "Europe/Berlin"
    db.session.commit()
    marketer = make_user(project, "marketer", email="marketer@example.com")
    newsletter = make_list(project, 12)
    newsletter.name = "Newsletter"
    make_sender(project, name="Newsroom", rate_per_hour=5)
    template = make_template(project, subject="{{ contact.first_name }}, the December news")
    template.name = "December news"
    db.session.commit()

    log_in(page, marketer.email)
    page.goto("/admin/campaign/")
    page.click("text=Create")
    page.fill("#name", "December newsletter")
    page.check("input[name=lists]")
    page.wait_for_function("document.getElementById('audience-count').textContent === '12'")
    page.screenshot(path=tmp_path / "01-audience.png", full_page=True)
    page.click("#save-next")

    page.select_option("#template_id", label="December news — version 1")
    page.select_option("#sender_id", index=1)
    # The element is parsed before the page's script fills it: wait for the script.
    page.wait_for_function("document.getElementById('inbox-subject').textContent !== ''")
    assert page.inner_text("#inbox-subject") == "N0, the December news"  # rendered, not Jinja
    page.screenshot(path=tmp_path / "02-content.png", full_page=True)
    page.click("#save-next")

    page.check("input[value=at]")
    page.click("#save-next")  # no date chosen: refused, naming the field
    assert "Send at: choose a date and time" in page.inner_text("[data-error=send_at]")
    page.screenshot(path=tmp_path / "03-schedule-refused.png", full_page=True)
    page.check("input[value=at]")
    send_at = next_tuesday_morning()
    page.fill("#send_at", send_at.strftime("%Y-%m-%dT%H:%M"))
    page.screenshot(path=tmp_path / "04-schedule.png", full_page=True)
    page.click("#save-next")

    assert page.inner_text("#review-subject").startswith("N0, the December news")
    assert page.inner_text("#review-count") == "12"
    eta = page.inner_text("#review-eta")
    # 5 an hour: 12 messages take three clock hours.
    assert f"First message about {shown(send_at)}" in eta
    assert f"last about {shown(send_at + timedelta(minutes=90))}" in eta
    assert "hourly limit" in eta
    assert page.locator("#preflight [data-level=error]").count() == 0
    button = page.locator("#launch-button")
    assert button.inner_text() == f"Send to 12 people at {shown(send_at)}"
    assert page.frame_locator("#review-frame").locator("text=Hello N0").is_visible()
    page.screenshot(path=tmp_path / "05-review.png", full_page=True)
    button.click()

    page.wait_for_url("**/admin/campaign/details/**")
    assert page.inner_text("#campaign-status") == "Scheduled"
    assert f"first message about {shown(send_at)}" in page.inner_text("#goes-out")
    assert "List: Newsletter" in page.inner_text("#campaign-summary")
    assert "Newsroom — Example News <news@example.com>" in page.inner_text("#campaign-summary")
    page.screenshot(path=tmp_path / "06-scheduled.png", full_page=True)

    page.go_back()
    page.wait_for_selector("#review-reach")  # the figures and checks have arrived
    assert page.locator("#launch-button").count() == 0
    assert "It cannot be launched again" in page.inner_text("#already-launched")
    page.screenshot(path=tmp_path / "07-back.png", full_page=True)

    page.goto("/admin/campaign/")
    assert f"From {shown(send_at)}" in page.inner_text("body")
    page.screenshot(path=tmp_path / "08-list.png", full_page=True)


def test_a_large_audience_is_counted_by_a_worker_while_the_review_waits(
    app, page, tmp_path, monkeypatch
):
    monkeypatch.setattr(readings, "BACKGROUND_FROM", 10)  # 12 people is "large" here
    project = make_project()
    marketer = make_user(project, "marketer", email="marketer@example.com")
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 12)]
    )
    log_in(page, marketer.email)
    page.goto(f"/admin/campaign/launch/{campaign.id}")
    page.wait_for_selector("#review-counting[data-counting]")
    assert "holds up to 12 people" in page.inner_text("#review-counting")
    assert page.locator("#launch-button").count() == 0
    page.screenshot(path=tmp_path / "01-counting.png", full_page=True)

    run_queue(count_audience.queue_name)  # the worker counts; the page asks again each second
    page.wait_for_selector("#review-count", timeout=10_000)
    assert page.inner_text("#review-count") == "12"
    assert "launching checks it again" in page.inner_text("#review-counted-at")
    assert page.inner_text("#launch-button") == "Send to 12 people now"
    page.screenshot(path=tmp_path / "02-counted.png", full_page=True)


def test_an_empty_draft_is_told_what_to_choose_and_a_resend_counts_non_openers(app, page, tmp_path):
    project = make_project()
    marketer = make_user(project, "marketer", email="marketer@example.com")
    empty = Campaign(project_id=project.id, name="Not ready", audience={})
    source = make_sent_campaign(project, name="November news")
    for index in range(3):
        make_delivery(source, make_contact(project, f"reader{index}@example.org"))
    opener = make_contact(project, "opener@example.org")
    make_delivery(source, opener)
    db.session.add(empty)
    db.session.add(
        Event(
            project_id=project.id,
            type=EventType.OPEN,
            campaign_id=source.id,
            contact_id=opener.id,
        )
    )
    db.session.commit()
    log_in(page, marketer.email)

    page.goto(f"/admin/campaign/launch/{empty.id}")
    errors = page.inner_text("#preflight")
    assert "Choose a template" in errors
    assert "Choose a sender" in errors
    assert "Choose who receives it" in errors
    assert page.locator("#launch-button").count() == 0  # the checks above have arrived
    page.screenshot(path=tmp_path / "01-empty-review.png", full_page=True)

    page.goto(f"/admin/campaign/details/?id={source.id}")
    page.click("#resend-non-openers")
    page.wait_for_url("**/content")
    page.click("text=1. Audience")
    assert "received “November news” and did not open it" in page.inner_text("#resend-audience")
    page.wait_for_function("document.getElementById('audience-count').textContent === '3'")
    page.screenshot(path=tmp_path / "02-resend-audience.png", full_page=True)
