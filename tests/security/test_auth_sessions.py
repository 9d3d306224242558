"""Sessions end on the server: a saved cookie opens nothing after logout, a password change,
a role change, a deactivation or "log out everywhere" (issue 15, item 3)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.sessions import SESSION_KEY
from mailapp.access.users import change_password, change_role, set_user_active
from mailapp.extensions import db
from mailapp.models import AuditLog, UserSession
from tests.factories import PASSWORD, TEST_ACTOR, make_project, make_user
from tests.support.signin import Browser, signed_in

ADA = "ada@example.com"


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def user(project):
    return make_user(project, "marketer", email=ADA)


def replay(app, cookie: str) -> int:
    """Status of /admin/ for a browser that only has a copy of the session cookie."""
    thief = Browser(app, ip="203.0.113.66")
    thief.client.set_cookie("session", cookie)
    return thief.get("/admin/").status_code


def session_token(browser: Browser) -> str:
    with browser.client.session_transaction() as session:
        return session[SESSION_KEY]


def test_a_cookie_saved_before_logout_opens_nothing_after_it(app, user):
    browser = signed_in(app, ADA)
    cookie = browser.cookie()
    assert replay(app, cookie) == 200
    token = browser.form_token("/admin/account/security/")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert replay(app, cookie) == 302
    assert db.session.scalar(sa.select(UserSession.end_reason)) == "logout"
    assert db.session.scalar(sa.select(AuditLog.id).where(AuditLog.action == "user.logout"))


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, user):
    laptop, phone = signed_in(app, ADA), signed_in(app, ADA, ip="192.0.2.11")
    response = laptop.post(
        "/account/password",
        data={
            "csrf_token": laptop.form_token("/account/password"),
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/admin/").status_code == 200
    assert phone.get("/admin/").status_code == 302
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.password_change"))
    assert entry.context == {"sessions_ended": 1}


def test_a_password_change_in_the_service_keeps_only_the_given_session(app, user):
    first, second = signed_in(app, ADA), signed_in(app, ADA)
    ended = change_password(
        user, PASSWORD, "another passphrase", actor=TEST_ACTOR, keep_session=session_token(first)
    )
    assert ended == 1
    assert first.get("/admin/").status_code == 200
    assert second.get("/admin/").status_code == 302


def test_a_role_change_ends_every_session_of_the_member(app, project, user):
    browser = signed_in(app, ADA)
    make_user(project, "owner")
    change_role(project.id, user.memberships[0].id, "analyst", actor=TEST_ACTOR)
    assert browser.get("/admin/").status_code == 302
    entry = db.session.scalar(
        sa.select(AuditLog).where(AuditLog.action == "membership.change_role")
    )
    assert entry.context["sessions_ended"] == 1


def test_deactivation_ends_the_sessions_and_reactivation_does_not_revive_them(app, project, user):
    browser = signed_in(app, ADA)
    cookie = browser.cookie()
    membership = user.memberships[0]
    set_user_active(project.id, membership.id, False, actor=TEST_ACTOR)
    assert browser.get("/admin/").status_code == 302
    set_user_active(project.id, membership.id, True, actor=TEST_ACTOR)
    assert replay(app, cookie) == 302
    assert db.session.scalar(sa.select(UserSession.end_reason)) == "deactivated"


def test_log_out_everywhere_from_the_account_page(app, user):
    laptop, phone = signed_in(app, ADA), signed_in(app, ADA, ip="192.0.2.11")
    cookie = laptop.cookie()
    page = laptop.get("/admin/account/security/").data.decode()
    assert "Where you are signed in" in page
    assert "192.0.2.10" in page
    assert "192.0.2.11" in page
    assert "this one" in page
    response = laptop.post(
        "/admin/account/security/logout-everywhere",
        data={"csrf_token": laptop.form_token("/admin/account/security/")},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert phone.get("/admin/").status_code == 302
    assert replay(app, cookie) == 302
    entry = db.session.scalar(
        sa.select(AuditLog).where(AuditLog.action == "user.logout_everywhere")
    )
    assert entry.context == {"sessions": 2}
    assert entry.actor_user_id == user.id


def test_the_account_page_links_to_sign_in_security(app, user):
    page = signed_in(app, ADA).get("/admin/account/").data.decode()
    assert 'href="/admin/account/security/"' in page


def test_log_out_everywhere_needs_the_csrf_token(app, user):
    browser = signed_in(app, ADA)
    assert browser.post("/admin/account/security/logout-everywhere").status_code == 400
    assert browser.get("/admin/").status_code == 200


def test_a_forged_or_missing_session_token_opens_nothing(app, user):
    browser = signed_in(app, ADA)
    with browser.client.session_transaction() as session:
        session[SESSION_KEY] = "not-a-real-token"
    assert browser.get("/admin/").status_code == 302
    with browser.client.session_transaction() as session:
        session.pop(SESSION_KEY)
        session["_user_id"] = str(user.id)
    assert browser.get("/admin/").status_code == 302


def test_the_database_holds_only_a_hash_of_the_session_token(app, user):
    token = session_token(signed_in(app, ADA))
    stored = db.session.scalar(sa.select(UserSession.token_hash))
    assert token not in stored
    assert len(stored) == 64


def test_last_seen_is_kept_at_most_every_few_minutes(app, user):
    from datetime import timedelta

    from mailapp.access.sessions import SEEN_EVERY, load_session_user

    browser = signed_in(app, ADA)
    token = session_token(browser)
    stale = db.session.scalar(sa.select(UserSession))
    stale.last_seen_at -= SEEN_EVERY + timedelta(minutes=1)
    db.session.commit()
    before = stale.last_seen_at
    assert load_session_user(str(user.id), token) == user
    db.session.expire_all()
    assert db.session.scalar(sa.select(UserSession.last_seen_at)) > before


def test_sign_in_security_needs_a_login(app):
    anonymous = Browser(app)
    response = anonymous.get("/admin/account/security/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin/account/security/"
