"""Two-factor sign-in, in the domain: TOTP set-up, codes that work once, recovery codes,
the secret encrypted at rest, and a project owner's requirement (issue 15, item 4)."""

from __future__ import annotations

import time

import pyotp
import pytest
import sqlalchemy as sa

from mailapp.access import throttle
from mailapp.access.audit import Actor
from mailapp.access.two_factor import (
    disable_two_factor,
    enable_two_factor,
    new_secret,
    recovery_codes_left,
    regenerate_recovery_codes,
    verify_second_factor,
)
from mailapp.access.two_factor_policy import members_two_factor, set_project_two_factor
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, RecoveryCode, UserSession
from tests.factories import PASSWORD, TEST_ACTOR, make_project, make_user
from tests.support.audit import one_audit_entry

IP = "192.0.2.10"


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def user(project):
    return make_user(project, "owner", email="ada@example.com")


def enrol(user) -> tuple[str, list[str]]:
    secret = new_secret()
    codes = enable_two_factor(user, secret, pyotp.TOTP(secret).now(), actor=TEST_ACTOR)
    return secret, codes


def next_code(secret: str) -> str:
    """The code of the next time step: accepted (clock drift) and not yet used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_enabling_needs_a_code_from_the_app(user):
    with pytest.raises(ServiceError, match="code: that code does not match"):
        enable_two_factor(user, new_secret(), "123456", actor=TEST_ACTOR)
    db.session.rollback()
    assert not user.two_factor_enabled
    with one_audit_entry("user.two_factor_enable") as entry:
        _, codes = enrol(user)
    assert user.two_factor_enabled
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert entry[0].context["recovery_codes"] == 10


def test_the_secret_is_encrypted_and_the_recovery_codes_hashed_at_rest(user):
    secret, codes = enrol(user)
    stored = db.session.execute(
        sa.text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()
    assert secret not in stored
    assert stored.startswith("gAAAA")  # a Fernet token (mailapp.crypto)
    hashes = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert len(hashes) == 10
    for code in codes:
        assert all(code.replace("-", "") not in h for h in hashes)


def test_a_code_works_once(user):
    secret, _ = enrol(user)
    code = next_code(secret)
    assert verify_second_factor(user, code, ip=IP).method == "password+totp"
    replayed = verify_second_factor(user, code, ip=IP)
    assert replayed.user is None


def test_wrong_codes_are_slowed_like_wrong_passwords(user):
    secret, _ = enrol(user)
    for _ in range(throttle.PAIR.free):
        assert not verify_second_factor(user, "000000", ip=IP).delayed
    assert verify_second_factor(user, "000000", ip=IP).delayed
    # Even the right code waits: six digits must not be guessed at speed.
    assert verify_second_factor(user, next_code(secret), ip=IP).delayed
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.signin_delayed"))
    assert entry.context["step"] == "code"


def test_a_recovery_code_works_once(user):
    _, codes = enrol(user)
    with one_audit_entry("user.recovery_code_used") as entry:
        result = verify_second_factor(user, codes[0].upper().replace("-", " "), ip=IP)
    assert result.method == "password+recovery"
    assert entry[0].context == {"left": 9}
    assert verify_second_factor(user, codes[0], ip=IP).user is None
    assert recovery_codes_left(user) == 9


def test_new_recovery_codes_need_the_password_and_replace_the_old(user):
    _, old = enrol(user)
    with pytest.raises(ServiceError, match="password: the password is wrong"):
        regenerate_recovery_codes(user, "not it", actor=TEST_ACTOR)
    db.session.rollback()
    new = regenerate_recovery_codes(user, PASSWORD, actor=TEST_ACTOR)
    assert verify_second_factor(user, old[1], ip=IP).user is None
    assert verify_second_factor(user, new[1], ip="192.0.2.11").user == user


def test_turning_off_needs_the_password_and_is_refused_while_a_project_requires_it(project, user):
    enrol(user)
    with pytest.raises(ServiceError, match="password is wrong"):
        disable_two_factor(user, "not it", actor=TEST_ACTOR)
    db.session.rollback()
    set_project_two_factor(project, True, actor=Actor("owner", user_id=user.id))
    with pytest.raises(ServiceError, match="requires two-factor"):
        disable_two_factor(user, PASSWORD, actor=TEST_ACTOR)
    db.session.rollback()
    set_project_two_factor(project, False, actor=TEST_ACTOR)
    with one_audit_entry("user.two_factor_disable"):
        disable_two_factor(user, PASSWORD, actor=TEST_ACTOR)
    assert not user.two_factor_enabled
    assert user.totp_secret is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0


def test_requiring_two_factor_needs_it_on_the_owner_first(project, user):
    owner = Actor("ada@example.com", user_id=user.id)
    with pytest.raises(ServiceError, match="require_two_factor: turn on two-factor"):
        set_project_two_factor(project, True, actor=owner)
    db.session.rollback()
    assert not project.require_two_factor


def test_requiring_two_factor_ends_sessions_signed_in_without_it(project, user):
    from mailapp.access.sessions import load_session_user, start_session

    enrol(user)
    member = make_user(project, "marketer", email="bob@example.com")
    other_project_user = make_user(make_project(), "marketer", email="carol@example.com")
    tokens = {
        u.email: start_session(u, method="password", ip=IP, user_agent=None, actor=TEST_ACTOR)
        for u in (member, other_project_user)
    }
    owner = Actor("ada@example.com", user_id=user.id)
    with one_audit_entry("project.require_two_factor") as entry:
        ended = set_project_two_factor(project, True, actor=owner)
    assert ended == 1
    assert entry[0].context == {
        "changes": {"require_two_factor": {"old": False, "new": True}},
        "members_without_two_factor": 1,
        "sessions_ended": 1,
    }
    assert load_session_user(str(member.id), tokens["bob@example.com"]) is None
    carol = tokens["carol@example.com"]
    assert load_session_user(str(other_project_user.id), carol) == other_project_user
    reasons = db.session.scalars(sa.select(UserSession.end_reason)).all()
    assert "two-factor required" in reasons
    assert members_two_factor(project.id) == [
        ("ada@example.com", user.memberships[0].role, True),
        ("bob@example.com", member.memberships[0].role, False),
    ]


def test_a_password_only_session_stops_when_a_project_starts_requiring(project, user):
    from mailapp.access.sessions import load_session_user, start_session

    enrol(user)
    member = make_user(project, "marketer", email="bob@example.com")
    token = start_session(member, method="password", ip=IP, user_agent=None, actor=TEST_ACTOR)
    assert load_session_user(str(member.id), token) == member
    project.require_two_factor = True  # even set behind the service's back
    db.session.commit()
    assert load_session_user(str(member.id), token) is None


def test_an_operator_resets_a_lost_second_factor_from_the_command_line(app, user):
    from mailapp.access.sessions import load_session_user, start_session

    enrol(user)
    token = start_session(user, method="password+totp", ip=IP, user_agent=None, actor=TEST_ACTOR)
    runner = app.test_cli_runner()
    with one_audit_entry("user.two_factor_reset") as entry:
        result = runner.invoke(args=["users", "reset-two-factor", "ada@example.com"])
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert entry[0].context == {"email": "ada@example.com", "sessions_ended": 1}
    db.session.expire_all()
    assert not user.two_factor_enabled
    assert load_session_user(str(user.id), token) is None
    again = runner.invoke(args=["users", "reset-two-factor", "ada@example.com"])
    assert again.exit_code != 0
    assert "has no two-factor sign-in to reset" in again.output
    assert "no user" in runner.invoke(args=["users", "reset-two-factor", "x@example.com"]).output
