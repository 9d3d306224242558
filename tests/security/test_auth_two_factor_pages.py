"""Two-factor sign-in through the pages: the code step, the set-up a project's rule forces,
the account page, and the owner's Security settings (issue 15, item 4)."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.access.two_factor import enable_two_factor, new_secret
from mailapp.access.two_factor_policy import set_project_two_factor
from mailapp.extensions import db
from mailapp.models import AuditLog, Project, UserSession
from tests.factories import TEST_ACTOR, make_project, make_user
from tests.support.signin import Browser, signed_in

ADA, BOB = "ada@example.com", "bob@example.com"
SECRET_ON_PAGE = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def owner(project):
    return make_user(project, "owner", email=ADA)


def enrolled(user) -> str:
    secret = new_secret()
    enable_two_factor(user, secret, pyotp.TOTP(secret).now(), actor=TEST_ACTOR)
    return secret


def later_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_a_user_with_two_factor_signs_in_in_two_steps(app, owner):
    secret = enrolled(owner)
    browser = Browser(app)
    response = browser.submit_login(ADA, query="?next=/admin/contact/")
    assert response.headers["Location"] == "/login/code"
    assert browser.get("/admin/").status_code == 302  # the password alone opens nothing
    page = browser.get("/login/code")
    assert b"Two-factor sign-in" in page.data
    token = browser.form_token("/login/code")
    wrong = browser.post("/login/code", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 401
    assert b"That code is not right" in wrong.data
    done = browser.post("/login/code", data={"code": later_code(secret), "csrf_token": token})
    assert done.status_code == 302
    assert done.headers["Location"] == "/admin/contact/"
    assert browser.get("/admin/").status_code == 200
    assert db.session.scalar(sa.select(UserSession.method)) == "password+totp"
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.login"))
    assert entry.context == {"method": "password+totp"}


def test_the_code_step_needs_the_password_step_first(app, owner):
    enrolled(owner)
    browser = Browser(app)
    response = browser.get("/login/code")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert browser.get("/login/two-factor-setup").headers["Location"] == "/login"


def test_a_required_project_makes_a_member_set_it_up_before_anything_opens(app, project, owner):
    enrolled(owner)
    make_user(project, "marketer", email=BOB)
    set_project_two_factor(project, True, actor=Actor(ADA, user_id=owner.id))
    browser = Browser(app)
    response = browser.submit_login(BOB)
    assert response.headers["Location"] == "/login/two-factor-setup"
    assert browser.get("/admin/").status_code == 302
    page = browser.get("/login/two-factor-setup").data.decode()
    assert "<strong>acme</strong> requires a second step" in page
    assert "<svg" in page  # the QR code, drawn by the server
    secret = SECRET_ON_PAGE.search(page)[1].replace(" ", "")
    assert browser.get("/login/two-factor-setup").data.decode().count(secret[:4]) >= 1
    token = browser.form_token("/login/two-factor-setup")
    bad = browser.post("/login/two-factor-setup", data={"code": "111111", "csrf_token": token})
    assert bad.status_code == 400
    assert b"That code does not match" in bad.data
    code = pyotp.TOTP(secret).now()
    done = browser.post("/login/two-factor-setup", data={"code": code, "csrf_token": token})
    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    assert len(re.findall(rb"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", done.data)) == 10
    assert browser.get("/admin/").status_code == 200
    assert db.session.scalar(
        sa.select(AuditLog.id).where(
            AuditLog.action == "user.two_factor_enable", AuditLog.actor == BOB
        )
    )


def test_enrolling_from_the_account_page(app, owner):
    browser = signed_in(app, ADA)
    page = browser.get("/admin/account/security/")
    assert page.headers["Cache-Control"] == "no-store"
    text = page.data.decode()
    assert "<svg" in text
    secret = SECRET_ON_PAGE.search(text)[1].replace(" ", "")
    token = browser.form_token("/admin/account/security/")
    bad = browser.post("/admin/account/security/enable", data={"code": "1", "csrf_token": token})
    assert bad.status_code == 400
    assert b"That code does not match" in bad.data
    done = browser.post(
        "/admin/account/security/enable",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": token},
    )
    assert done.status_code == 200
    assert b"Two-factor sign-in is on" in done.data
    db.session.refresh(owner)
    assert owner.two_factor_enabled
    # This browser proved the second factor just now: it stays signed in.
    assert browser.get("/admin/").status_code == 200
    status = browser.get("/admin/account/security/").data.decode()
    assert "Recovery codes left: <strong>10</strong>" in status


def test_the_security_settings_are_for_owners(app, project, owner):
    make_user(project, "admin", email=BOB)
    assert signed_in(app, BOB).get("/admin/security/").status_code == 403


def test_an_owner_without_two_factor_is_told_to_set_it_up_first(app, project, owner):
    browser = signed_in(app, ADA)
    token = browser.form_token("/admin/security/")
    response = browser.post(
        "/admin/security/", data={"require_two_factor": "1", "csrf_token": token}
    )
    assert response.status_code == 400
    assert b"Turn on two-factor sign-in for your own account first" in response.data
    assert not db.session.scalar(sa.select(Project.require_two_factor))


def test_requiring_two_factor_from_the_settings_page_signs_out_members_without_it(
    app, project, owner
):
    make_user(project, "marketer", email=BOB)
    bob = signed_in(app, BOB)
    secret = enrolled(owner)
    ada = Browser(app)
    ada.submit_login(ADA)
    ada.post(
        "/login/code",
        data={"code": later_code(secret), "csrf_token": ada.form_token("/login/code")},
    )
    page = ada.get("/admin/security/").data.decode()
    assert "1 of 2 member(s) have no two-factor sign-in yet" in page
    response = ada.post(
        "/admin/security/",
        data={"require_two_factor": "1", "csrf_token": ada.form_token("/admin/security/")},
    )
    assert response.status_code == 302
    assert bob.get("/admin/").status_code == 302
    assert ada.get("/admin/").status_code == 200
    assert "Require two-factor sign-in" in ada.get("/admin/security/").data.decode()
