"""Settings → Sending rules in headless Chromium: a wrong value is named, the right ones are
saved, shown and audited."""

from __future__ import annotations

import pytest

from mailapp.extensions import db
from mailapp.models import Campaign, Project
from tests.factories import (
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
    make_user,
)
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def test_owner_sets_quiet_hours_and_a_frequency_cap(app, page, tmp_path):
    project = make_project("acme")
    make_user(project, "owner", email="owner@example.com")
    log_in(page, "owner@example.com")
    page.click("#admin-navbar-collapse >> text=Settings")
    page.click("#admin-navbar-collapse >> text=Sending rules")
    page.wait_for_url("**/admin/settings/")
    page.screenshot(path=tmp_path / "01-defaults.png", full_page=True)
    assert "Default: no cap." in page.inner_text("#sending-rules")

    page.fill("#quiet_hours_start", "21:00")
    page.fill("#frequency_cap_7d", "0")
    page.click("text=Save sending rules")
    page.wait_for_load_state()
    page.screenshot(path=tmp_path / "02-errors.png", full_page=True)
    assert "Nothing was saved" in page.inner_text("body")
    assert "from 1 to 100, not 0" in page.inner_text("[data-error-for=frequency_cap_7d]")
    assert "start and an end" in page.inner_text("[data-error-for=quiet_hours_end]")
    assert db.session.get(Project, project.id).settings["quiet_hours"] is None

    page.fill("#quiet_hours_end", "08:00")
    page.fill("#frequency_cap_7d", "3")
    page.click("text=Save sending rules")
    page.wait_for_selector("text=Saved:")
    page.screenshot(path=tmp_path / "03-saved.png", full_page=True)
    assert page.input_value("#quiet_hours_start") == "21:00"
    assert page.input_value("#quiet_hours_end") == "08:00"
    assert page.input_value("#frequency_cap_7d") == "3"
    changes = page.inner_text("#recent-changes")
    assert "owner@example.com" in changes
    assert "Messages per contact per 7 days: none → 3" in changes
    db.session.expire_all()
    settings = db.session.get(Project, project.id).settings
    assert settings["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert settings["frequency_cap_7d"] == 3

    page.goto("/admin/auditlog/")
    row = page.locator("tr", has_text="project.settings")
    assert row.count() == 1
    page.screenshot(path=tmp_path / "04-audit.png", full_page=True)


def test_owner_sets_a_warmup_plan_and_campaign_guardrails(app, page, tmp_path):
    project = make_project("acme")
    make_user(project, "owner", email="owner@example.com")
    sender = make_sender(project)
    campaign = make_campaign(
        project, sender, make_template(project), [make_list(project, 2)], name="Spring sale"
    )
    log_in(page, "owner@example.com")
    page.goto("/admin/warmup/")
    page.click(f"tr[data-sender='{sender.id}'] >> text=Edit")
    page.fill("#start", "2026-01-05")
    page.fill("#daily_caps", "50, 100, 200, 400")
    page.click("text=Save warm-up plan")
    page.wait_for_selector("text=Warm-up plan of")
    page.screenshot(path=tmp_path / "05-warmup.png", full_page=True)
    assert "50, 100, 200, 400" in page.inner_text("#recent-changes")

    page.goto("/admin/guardrails/")
    page.screenshot(path=tmp_path / "06-guardrails-list.png", full_page=True)
    page.click(f"tr[data-campaign='{campaign.id}'] >> text=Edit")
    page.fill("#canary_percent", "60")
    page.fill("#max_bounce_percent", "2")
    page.click("text=Save guardrails")
    page.wait_for_load_state()
    assert "from 1 to 50" in page.inner_text("[data-error-for=canary_percent]")
    page.fill("#canary_percent", "10")
    page.click("text=Save guardrails")
    page.wait_for_selector("text=Guardrails saved")
    page.screenshot(path=tmp_path / "07-guardrails.png", full_page=True)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).guardrails == {
        "canary_share": 0.1,
        "max_bounce_rate": 0.02,
    }
