"""The back office in headless Chromium: log in, switch project, edit, audit, menus by role."""

from __future__ import annotations

import pytest

from mailapp.extensions import db
from mailapp.models import Membership, Role
from tests.factories import make_project, make_user
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def test_owner_switches_project_edits_a_contact_and_sees_the_audit_entry(app, page):
    alpha, bravo = make_project("alpha"), make_project("bravo")
    user = make_user(alpha, "owner", email="owner@example.com")
    db.session.add(Membership(user_id=user.id, project_id=bravo.id, role=Role.OWNER))
    db.session.commit()

    log_in(page, "owner@example.com")
    page.select_option("#project-select", label="bravo")
    page.click("#project-switcher button[type=submit]")
    page.wait_for_url("**/admin/")
    assert page.inner_text("h1") == "bravo"

    page.goto("/admin/contact/new/")
    page.fill("input[name=email]", "grace@example.org")
    page.fill("input[name=first_name]", "Grace")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url("**/admin/contact/**")
    page.click("text=grace@example.org >> xpath=ancestor::tr >> a[title='Edit Record']")
    page.fill("input[name=first_name]", "Grace B.")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url("**/admin/contact/**")
    assert page.is_visible("text=Grace B.")

    page.goto("/admin/auditlog/")
    row = page.locator("tr", has_text="contact.update")
    assert row.count() == 1
    assert "owner@example.com" in row.inner_text()
    assert "first_name" in row.inner_text()


def test_support_user_does_not_see_the_campaigns_menu(app, page):
    project = make_project("acme")
    make_user(project, "support", email="support@example.com")
    log_in(page, "support@example.com")
    menu = page.inner_text("#admin-navbar-collapse")
    assert "Audience" in menu
    assert "Campaigns" not in menu
    response = page.goto("/admin/campaign/")
    assert response.status == 403
