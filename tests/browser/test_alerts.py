"""The Alerts page in headless Chromium: an owner reads an alert in plain words, turns one
kind off, changes a threshold and adds a recipient; a marketer sees it all greyed out."""

from __future__ import annotations

import pytest

from mailapp.alerts.raising import raise_alert
from mailapp.alerts.settings import alert_settings
from mailapp.extensions import db
from mailapp.models import AlertKind, Project
from tests.factories import make_project, make_user
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def test_owner_reads_alerts_and_changes_the_settings(app, page, tmp_path):
    project = make_project("acme")
    make_user(project, "owner", email="owner@example.com")
    raise_alert(
        project,
        AlertKind.WEBHOOKS_FAILING,
        "endpoint:1",
        "The webhook receiver https://crm.example.com/in failed 5 times in a row.",
        "/admin/webhookattempt/",
    )
    log_in(page, "owner@example.com")
    page.click("#admin-navbar-collapse >> text=Settings")
    page.click("#admin-navbar-collapse >> text=Alerts")
    page.wait_for_url("**/admin/alerts/")
    page.screenshot(path=tmp_path / "01-alerts.png", full_page=True)
    row = page.inner_text("#alerts")
    assert "A webhook receiver keeps failing" in row
    assert "failed 5 times in a row" in row
    assert "Waiting to be sent" in row  # no worker ran in this test

    page.uncheck("#enabled-queue_growing")
    page.fill("#bounce_percent", "2")
    page.fill("#recipients", "oncall@example.com")
    page.click("text=Save alert settings")
    page.wait_for_selector("text=Saved:")
    page.screenshot(path=tmp_path / "02-saved.png", full_page=True)
    assert not page.is_checked("#enabled-queue_growing")
    assert page.input_value("#bounce_percent") == "2"
    changes = page.inner_text("#recent-changes")
    assert "Hard bounces above (%): 5 → 2" in changes
    assert "Alert: Work is piling up (a queue keeps growing): on → off" in changes
    db.session.expire_all()
    stored = alert_settings(db.session.get(Project, project.id))
    assert "queue_growing" not in stored["enabled"]
    assert stored["recipients"] == ["oncall@example.com"]


def test_a_marketer_sees_the_settings_but_cannot_change_them(app, page):
    project = make_project("acme")
    make_user(project, "marketer", email="marketer@example.com")
    log_in(page, "marketer@example.com")
    page.goto("/admin/alerts/")
    assert "Only the project's owners and admins" in page.inner_text("#read-only")
    assert page.is_disabled("#bounce_percent")
    assert page.is_disabled("text=Save alert settings")
