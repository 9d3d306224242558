"""Login throttling: per account and per address, in Redis, with a lockout window."""

import pytest

from mailapp.access import login
from mailapp.access.login import authenticate, unlock_member
from mailapp.errors import NotFound
from mailapp.extensions import db
from tests.factories import PASSWORD, TEST_ACTOR, make_project, make_user
from tests.support.audit import one_audit_entry


def test_an_account_locks_after_repeated_failures_even_with_the_right_password(app):
    user = make_user(make_project(), email="ada@example.com")
    for _ in range(login.ACCOUNT_LIMIT - 1):
        result = authenticate("ada@example.com", "wrong", ip="192.0.2.1")
        assert result.user is None
        assert not result.locked
    locking = authenticate("ada@example.com", "wrong", ip="192.0.2.1")
    assert locking.locked
    result = authenticate("ada@example.com", PASSWORD, ip="198.51.100.7")
    assert result.user is None
    assert result.locked
    assert 0 < result.retry_after <= login.WINDOW_SECONDS
    assert result.retry_minutes == login.WINDOW_SECONDS // 60
    db.session.refresh(user)
    assert user.locked_until is not None
    with one_audit_entry("user.unlock") as entry:
        unlock_member(user.memberships[0].project_id, user.memberships[0].id, actor=TEST_ACTOR)
    assert entry[0].context == {"email": "ada@example.com"}
    assert authenticate("ada@example.com", PASSWORD).user == user
    assert user.locked_until is None


def test_a_success_resets_the_account_counter(app):
    user = make_user(make_project(), email="ada@example.com")
    for _ in range(login.ACCOUNT_LIMIT - 1):
        authenticate("ada@example.com", "wrong")
    assert authenticate("ada@example.com", PASSWORD).user == user
    for _ in range(login.ACCOUNT_LIMIT - 1):
        assert not authenticate("ada@example.com", "wrong").locked


def test_one_address_trying_many_accounts_gets_locked(app):
    make_user(make_project(), email="ada@example.com")
    for n in range(login.IP_LIMIT - 1):
        assert not authenticate(f"nobody{n}@example.com", "x", ip="203.0.113.9").locked
    assert authenticate("nobody@example.com", "x", ip="203.0.113.9").locked
    assert authenticate("ada@example.com", PASSWORD, ip="203.0.113.9").locked
    assert authenticate("ada@example.com", PASSWORD, ip="203.0.113.10").user is not None


def test_unlock_is_scoped_to_the_project(app):
    user = make_user(make_project(), email="ada@example.com")
    with pytest.raises(NotFound):
        unlock_member(make_project().id, user.memberships[0].id, actor=TEST_ACTOR)
