"""Two-factor sign-in in headless Chromium: an owner sets it up from the QR page, requires it
for the project, and signs in with a code; a member without it is sent to set it up."""

from __future__ import annotations

import time

import pyotp
import pytest

from mailapp.extensions import db
from mailapp.models import Project, User
from tests.factories import PASSWORD, make_project, make_user
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def test_owner_sets_up_two_factor_requires_it_and_signs_in_with_a_code(
    app, page, browser, app_server, tmp_path
):
    project = make_project("acme")
    make_user(project, "owner", email="owner@example.com")
    make_user(project, "marketer", email="bob@example.com")
    log_in(page, "owner@example.com")
    page.click("#user-menu")
    page.click("text=Sign-in security")
    page.wait_for_url("**/admin/account/security/")
    page.screenshot(path=tmp_path / "01-set-up.png", full_page=True)
    assert page.locator("#totp-qr svg").is_visible()
    secret = page.inner_text("#totp-secret").replace(" ", "")
    assert pyotp.TOTP(secret).provisioning_uri()  # a valid base32 key

    page.fill("#code", "000000")
    page.click("text=Turn on two-factor sign-in")
    page.wait_for_load_state()
    page.screenshot(path=tmp_path / "02-wrong-code.png", full_page=True)
    assert "does not match" in page.inner_text("[data-error-for=code]")

    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("text=Turn on two-factor sign-in")
    page.wait_for_selector("#recovery-codes")
    page.screenshot(path=tmp_path / "03-recovery-codes.png", full_page=True)
    assert page.locator("#recovery-codes li").count() == 10
    page.click("#done")
    page.wait_for_selector("#codes-left")
    assert page.inner_text("#two-factor-status") == "On"

    page.click("#admin-navbar-collapse >> text=Settings")
    page.click("#admin-navbar-collapse >> text=Security")
    page.wait_for_url("**/admin/security/")
    page.check("#require_two_factor")
    page.click("#security-form >> text=Save")
    page.wait_for_selector("text=Two-factor sign-in is now required")
    page.screenshot(path=tmp_path / "04-required.png", full_page=True)
    assert "1 of 2 member(s) have no two-factor sign-in yet" in page.inner_text("body")
    db.session.expire_all()
    assert db.session.get(Project, project.id).require_two_factor

    page.click("#user-menu")
    page.click("text=Sign out")
    page.wait_for_url("**/login")
    page.fill("input[name=email]", "owner@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code")
    page.screenshot(path=tmp_path / "05-code-step.png", full_page=True)
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))  # not the code used above
    page.click("text=Verify and sign in")
    page.wait_for_url("**/admin/")
    page.screenshot(path=tmp_path / "06-signed-in.png", full_page=True)

    member = browser.new_context(base_url=app_server).new_page()
    member.goto("/login")
    member.fill("input[name=email]", "bob@example.com")
    member.fill("input[name=password]", PASSWORD)
    member.click("button[type=submit]")
    member.wait_for_url("**/login/two-factor-setup")
    member.screenshot(path=tmp_path / "07-member-must-set-up.png", full_page=True)
    assert member.locator("#totp-qr svg").is_visible()
    member_secret = member.inner_text("#totp-secret").replace(" ", "")
    member.fill("#code", pyotp.TOTP(member_secret).now())
    member.click("text=Turn on and sign in")
    member.wait_for_selector("#recovery-codes")
    member.screenshot(path=tmp_path / "08-member-codes.png", full_page=True)
    member.click("#continue")
    member.wait_for_url("**/admin/")
    member.context.close()
    db.session.expire_all()
    bob = db.session.query(User).filter_by(email="bob@example.com").one()
    assert bob.two_factor_enabled
