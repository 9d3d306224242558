"""AIMD slow-downs in the real Redis: halve on a 421, step back up over (injected) time, lift."""

from __future__ import annotations

from datetime import timedelta

from mailapp.delivery.ratelimits import RateLimiter
from mailapp.delivery.throttles import ThrottlePolicy, slowdowns, throttle_key, throttled_groups
from mailapp.extensions import get_redis
from mailapp.models.base import utcnow
from tests.factories import make_project, make_sender

POLICY = ThrottlePolicy(rate=4, step=1, step_seconds=30, ceiling=8)


def limiters(rate_per_second=None, count=2):
    project = make_project()
    sender = make_sender(project, rate_per_second=rate_per_second)
    return [RateLimiter(get_redis(), project, sender, POLICY) for _ in range(count)]


def granted(limiter, at, group="google"):
    """What one second's window grants a group at `at` (asking for far more)."""
    return limiter.acquire(group, 1000, at).granted


def test_halved_on_each_421_never_below_one_and_replies_in_flight_count_once(app):
    first, second = limiters()  # two workers
    t0 = utcnow().replace(microsecond=0)
    assert granted(first, t0) == 1000  # unlimited until a 421
    assert first.slow_down("google", "421 4.7.0", now=t0) == 4
    assert granted(second, t0 + timedelta(seconds=1)) == 4
    assert granted(second, t0 + timedelta(seconds=1), "microsoft") == 1000
    # Replies to messages already sent at the old rate: one decrease, not one each.
    assert second.slow_down("google", now=t0 + timedelta(seconds=1)) == 4
    assert granted(first, t0 + timedelta(seconds=2)) == 4
    assert second.slow_down("google", now=t0 + timedelta(seconds=3)) == 2
    assert first.slow_down("google", now=t0 + timedelta(seconds=6)) == 1
    assert first.slow_down("google", now=t0 + timedelta(seconds=9)) == 1
    assert granted(second, t0 + timedelta(seconds=10)) == 1


def test_steps_up_additively_then_lifts_at_the_ceiling(app):
    (limiter,) = limiters(count=1)
    t0 = utcnow().replace(microsecond=0)
    limiter.slow_down("google", now=t0)
    limiter.slow_down("google", now=t0 + timedelta(seconds=5))  # 2 per second from t0+5
    t1 = t0 + timedelta(seconds=5)
    assert granted(limiter, t1 + timedelta(seconds=29)) == 2
    assert granted(limiter, t1 + timedelta(seconds=30)) == 3
    assert granted(limiter, t1 + timedelta(seconds=91)) == 5
    assert granted(limiter, t1 + timedelta(seconds=179)) == 7
    # 2 -> 8 takes six steps: at the ceiling the limit is lifted.
    assert granted(limiter, t1 + timedelta(seconds=180)) == 1000
    # A 421 while stepping up halves the rate reached (5 -> 2), from that moment.
    limiter.slow_down("google", now=t1 + timedelta(seconds=95))
    assert granted(limiter, t1 + timedelta(seconds=96)) == 2
    assert granted(limiter, t1 + timedelta(seconds=126)) == 3
    # Once lifted, the next slow-down starts again at THROTTLE_RATE.
    assert limiter.slow_down("google", now=t1 + timedelta(seconds=1000)) == 4
    # Redis drops the state once it is lifted (lift - now, plus a second).
    assert 0 < get_redis().pttl(throttle_key(limiter.sender.id, "google")) <= 121_000


def test_ceiling_is_the_senders_own_rate_when_lower(app):
    (limiter,) = limiters(rate_per_second=6, count=1)
    t0 = utcnow().replace(microsecond=0)
    limiter.slow_down("mx:hostingco.net", now=t0)
    group = "mx:hostingco.net"
    assert granted(limiter, t0 + timedelta(seconds=59), group) == 5
    assert granted(limiter, t0 + timedelta(seconds=61), group) == 6  # the sender's limit now


def test_operator_readings_name_providers_and_when_speed_returns(app):
    google, other = limiters()
    other_sender = make_sender(make_project())
    now = utcnow().replace(microsecond=0)
    google.slow_down("google", "421 4.7.0", now=now)
    other.slow_down("mx:hostingco.net", "421", now=now)
    RateLimiter(get_redis(), make_project(), other_sender, POLICY).slow_down("mx:x.net")
    assert throttled_groups(get_redis()) == {"google": 1, "other": 2}
    (shown, hosting) = sorted(
        slowdowns(get_redis(), {google.sender.id}, now + timedelta(seconds=31)),
        key=lambda s: s.group,
    )
    assert (shown.group, shown.rate, shown.reason) == ("google", 5, "421 4.7.0")
    assert shown.next_step_at == shown.since + timedelta(seconds=60)
    assert shown.next_rate == 6
    assert shown.lifted_at == shown.since + timedelta(seconds=120)
    assert hosting.group == "mx:hostingco.net"
    assert slowdowns(get_redis(), {google.sender.id}, now + timedelta(seconds=121)) == []


def test_a_send_group_reads_its_groups_once_and_sees_its_own_slow_down_at_once(app):
    mine, other = limiters()
    t0 = utcnow().replace(microsecond=0)
    mine.prepare_groups({"google": 0, "microsoft": 0}, t0)
    other.slow_down("google", now=t0)
    # Another worker's slow-down counts from this worker's next send group ...
    assert granted(mine, t0 + timedelta(seconds=1)) == 1000
    mine.prepare_groups({"google": 0, "microsoft": 0}, t0 + timedelta(seconds=2))
    assert granted(mine, t0 + timedelta(seconds=2)) == 4
    assert granted(mine, t0 + timedelta(seconds=2), "microsoft") == 1000
    # ... its own at the next acquire.
    mine.slow_down("microsoft", now=t0 + timedelta(seconds=2))
    assert granted(mine, t0 + timedelta(seconds=3), "microsoft") == 4
