from datetime import UTC, date, datetime, timedelta

from mailapp.delivery.ratelimits import RateLimiter, domain_group, quota_used_today, warmup_cap
from mailapp.delivery.throttles import ThrottlePolicy
from mailapp.extensions import get_redis
from tests.factories import make_project, make_sender

NOW = datetime(2026, 5, 4, 10, 0, 0, 250_000, tzinfo=UTC)


def limiter(project, sender):
    return RateLimiter(get_redis(), project, sender, ThrottlePolicy(rate=4))


def test_domain_groups_by_name_alone():
    assert domain_group("a@gmail.com") == "google"
    assert domain_group("a@GoogleMail.com") == "google"
    assert domain_group("a@hotmail.co.uk") == "microsoft"
    assert domain_group("a@yahoo.fr") == "yahoo"
    assert domain_group("a@web.de") == "gmx"
    assert domain_group("a@example.org") == "mx:example.org"


def test_per_second_limit_is_shared_and_says_when_to_return(app):
    project = make_project()
    sender = make_sender(project, rate_per_second=5)
    first, second = limiter(project, sender), limiter(project, sender)  # two workers
    assert first.acquire("others", 3, NOW).granted == 3
    grant = second.acquire("others", 4, NOW)
    assert grant.granted == 2
    assert grant.retry_at == NOW.replace(microsecond=0) + timedelta(seconds=1)
    assert grant.limit == "sender per second"
    assert second.acquire("others", 4, NOW + timedelta(seconds=1)).granted == 4


def test_daily_cap_is_the_smaller_of_limit_and_warm_up(app):
    project = make_project()
    sender = make_sender(
        project,
        rate_per_day=100,
        warmup_plan={"start": "2026-05-01", "daily_caps": [5, 10, 20, 40]},
    )
    assert warmup_cap(sender, date(2026, 5, 4)) == 40
    assert warmup_cap(sender, date(2026, 5, 9)) is None  # plan over
    assert warmup_cap(sender, date(2026, 4, 1)) == 5
    sender.warmup_plan = {"start": "2026-05-03", "daily_caps": [5, 10]}
    grant = limiter(project, sender).acquire("others", 50, NOW)
    assert grant.granted == 10
    assert grant.retry_at == datetime(2026, 5, 5, tzinfo=UTC)


def test_slow_down_throttles_one_domain_group(app):
    project = make_project()
    sender = make_sender(project)
    rl = limiter(project, sender)
    assert rl.acquire("google", 50, NOW).granted == 50
    rl.slow_down("google", now=NOW)
    assert rl.acquire("google", 50, NOW + timedelta(seconds=1)).granted == 4
    assert rl.acquire("mx:example.org", 50, NOW + timedelta(seconds=1)).granted == 50
    rl.slow_down("google", now=NOW + timedelta(seconds=3))
    grant = rl.acquire("google", 50, NOW + timedelta(seconds=4))
    assert (grant.granted, grant.limit) == (2, "google slow-down")


def test_project_quota_counts_and_blocks(app):
    project = make_project()
    project.settings = {**project.settings, "quota_messages_per_day": 7}
    sender = make_sender(project)
    grant = limiter(project, sender).acquire("others", 10, NOW)
    assert (grant.granted, grant.limit) == (7, "project daily quota")
    assert quota_used_today(get_redis(), project.id, NOW) == 7


def test_a_send_group_takes_the_senders_limits_once_for_its_unthrottled_groups(app):
    project = make_project()
    sender = make_sender(project, rate_per_second=5)
    rl = limiter(project, sender)
    rl.slow_down("google", now=NOW)
    rl.prepare_groups({"mx:a.net": 3, "mx:b.net": 3, "google": 2}, NOW)
    # One take of 5 for the 6 unthrottled rows: counted once, shared by their groups.
    assert int(get_redis().get(f"rl:s:{sender.id}:sec:{int(NOW.timestamp())}")) == 5
    assert rl.acquire("mx:a.net", 3, NOW).granted == 3
    grant = rl.acquire("mx:b.net", 3, NOW)
    assert (grant.granted, grant.limit) == (2, "sender per second")
    assert grant.retry_at == NOW.replace(microsecond=0) + timedelta(seconds=1)
    # The slowed group takes from the windows itself, its slow-down included.
    assert rl.acquire("google", 2, NOW).granted == 0
    assert int(get_redis().get(f"rl:s:{sender.id}:sec:{int(NOW.timestamp())}")) == 5
    # What is left of a reserve is not used in a later second.
    later = NOW + timedelta(seconds=1)
    rl.prepare_groups({"mx:a.net": 1}, later)
    assert rl.acquire("mx:b.net", 4, later + timedelta(seconds=1)).granted == 4
    second = int((later + timedelta(seconds=1)).timestamp())
    assert int(get_redis().get(f"rl:s:{sender.id}:sec:{second}")) == 4
