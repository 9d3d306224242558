"""Login: the same cost for known and unknown accounts, and backoff nobody can turn into a
lockout of someone else's account (issue 15, item 5).

Each password check costs a real scrypt hash, so counters are mostly filled directly through
`throttle.record_failure` (what a failed `authenticate` calls) and only the step under test
goes through `authenticate`.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from mailapp.access import throttle
from mailapp.access.login import authenticate, clear_signin_delay
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import AuditLog
from tests.factories import PASSWORD, TEST_ACTOR, make_project, make_user
from tests.support.audit import one_audit_entry

ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"
ADA = "ada@example.com"


@pytest.fixture
def user(app):
    return make_user(make_project(), email=ADA)


def _counters(ip: str | None = ATTACKER, email: str = ADA, device: str | None = None):
    return throttle.counters("password", email, ip, device=device)


def _seed(times: int, **where) -> None:
    """Failures as `authenticate` records them, without paying for the hashes."""
    for _ in range(times):
        throttle.record_failure(_counters(**where))


def _median_seconds(call, runs: int = 3) -> float:
    durations = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    return sorted(durations)[runs // 2]


def test_an_unknown_address_costs_a_password_hash_like_a_known_one(user):
    authenticate("nobody@example.com", "wrong", ip="192.0.2.250")  # builds the dummy hash
    known = _median_seconds(lambda: authenticate(ADA, "wrong", ip="192.0.2.1"))
    unknown = _median_seconds(lambda: authenticate("nobody@example.com", "wrong", ip="192.0.2.2"))
    # Without the dummy hash the unknown path is ~100x faster; with it they are alike.
    assert unknown > known * 0.5, (known, unknown)


def test_a_few_failures_are_free_then_only_that_address_waits(user):
    _seed(throttle.PAIR.free - 1)
    assert not authenticate(ADA, "wrong", ip=ATTACKER).delayed  # the last free one
    delayed = authenticate(ADA, "wrong", ip=ATTACKER)
    assert delayed.delayed
    assert delayed.retry_after == throttle.PAIR.base
    # While the wait runs, even the right password from that address is not checked.
    assert authenticate(ADA, PASSWORD, ip=ATTACKER).delayed
    # The owner, elsewhere, signs in at once: the attacker locked nobody out.
    assert authenticate(ADA, PASSWORD, ip=OWNER).user == user


def test_the_wait_doubles_with_each_failure_ends_and_has_a_ceiling(app):
    now = time.time()
    _seed(throttle.PAIR.free)
    waits = []
    for _ in range(4):
        waits.append(throttle.record_failure(_counters(), now=now)["pair"])
        assert throttle.wait_seconds(_counters(), now=now + waits[-1] - 1) > 0
        now += waits[-1]
        assert throttle.wait_seconds(_counters(), now=now) == 0
    assert waits == [2, 4, 8, 16]
    _seed(8)
    assert throttle.record_failure(_counters(), now=now)["pair"] == throttle.PAIR.cap


def test_attempts_during_a_wait_are_refused_counted_and_audited(user):
    _seed(throttle.PAIR.free)
    authenticate(ADA, "wrong", ip=ATTACKER)
    for _ in range(3):
        assert authenticate(ADA, PASSWORD, ip=ATTACKER).delayed
    assert throttle.attempts(_counters())["pair"] == {
        "failures": throttle.PAIR.free + 1,
        "refused": 3,
    }
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.signin_delayed"))
    assert entry.object_id == str(user.id)
    assert entry.ip == ATTACKER
    assert entry.context["waits"] == {"pair": 2}
    # The next failure after the wait says how many were refused in between.
    authenticate(ADA, "wrong", ip=ATTACKER, now=time.time() + 3)
    latest = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "user.signin_delayed")
    ).all()[-1]
    assert latest.context["attempts"]["pair"]["refused"] == 3


def test_known_and_unknown_accounts_are_delayed_and_audited_alike(user):
    _seed(throttle.PAIR.free)
    _seed(throttle.PAIR.free, email="nobody@example.com")
    known = authenticate(ADA, "wrong", ip=ATTACKER)
    unknown = authenticate("nobody@example.com", "wrong", ip=ATTACKER)
    assert (known.retry_after, unknown.retry_after) == (2, 2)
    entries = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "user.signin_delayed")
    ).all()
    assert [e.context["email"] for e in entries] == [ADA, "nobody@example.com"]
    assert entries[0].context.keys() == entries[1].context.keys()


def test_an_attack_from_many_addresses_only_delays_and_spares_known_devices(user):
    for n in range(throttle.ACCOUNT.free):
        _seed(1, ip=f"203.0.113.{n}")
    result = authenticate(ADA, "wrong", ip="203.0.113.200")
    assert result.delayed
    assert result.retry_after <= throttle.ACCOUNT.cap  # a delay of seconds, not a lockout
    assert authenticate(ADA, PASSWORD, ip=OWNER).delayed
    # The owner's own browser (signed in before) is not delayed at all.
    assert authenticate(ADA, PASSWORD, ip=OWNER, device="owner-laptop").user == user


def test_a_known_device_is_not_slowed_by_failures_from_its_own_address(user):
    _seed(throttle.PAIR.free + 2, ip=OWNER)  # e.g. an attacker behind the same office NAT
    assert authenticate(ADA, PASSWORD, ip=OWNER).delayed
    assert authenticate(ADA, PASSWORD, ip=OWNER, device="owner-laptop").user == user


def test_one_address_spraying_many_accounts_waits(user):
    for n in range(throttle.ADDRESS.free):
        _seed(1, email=f"nobody{n}@example.com")
    assert authenticate("other@example.com", "x", ip=ATTACKER).delayed
    assert authenticate(ADA, PASSWORD, ip=ATTACKER).delayed
    assert authenticate(ADA, PASSWORD, ip=OWNER).user == user


def test_a_success_forgets_the_account_failures_but_not_the_address_ones(user):
    _seed(throttle.PAIR.free)
    assert authenticate(ADA, PASSWORD, ip=ATTACKER).user == user
    counted = throttle.attempts(_counters())
    assert counted["pair"]["failures"] == 0
    assert counted["account"]["failures"] == 0
    assert counted["address"]["failures"] == throttle.PAIR.free


def test_an_administrator_clears_the_account_wide_delay(user):
    for n in range(throttle.ACCOUNT.free + 1):
        _seed(1, ip=f"203.0.113.{n}")
    assert authenticate(ADA, PASSWORD, ip=OWNER).delayed
    membership = user.memberships[0]
    with one_audit_entry("user.unlock") as entry:
        clear_signin_delay(membership.project_id, membership.id, actor=TEST_ACTOR)
    assert entry[0].context == {"email": ADA}
    assert authenticate(ADA, PASSWORD, ip=OWNER).user == user


def test_clearing_a_delay_is_scoped_to_the_project(user):
    with pytest.raises(NotFound):
        clear_signin_delay(make_project().id, user.memberships[0].id, actor=TEST_ACTOR)
