"""The Sending page tells, in plain words, which mail providers slowed down this project's
senders, how fast they go now and when full speed returns; another project's stay hidden."""

from __future__ import annotations

import html
from datetime import timedelta

from mailapp.delivery.ratelimits import RateLimiter
from mailapp.delivery.throttles import ThrottlePolicy
from mailapp.extensions import get_redis
from mailapp.models.base import utcnow
from tests.factories import make_project, make_sender, make_user

POLICY = ThrottlePolicy(rate=4, step=1, step_seconds=30, ceiling=8)


def clock(moment):
    return moment.strftime("%H:%M")  # the test project's zone is UTC


def test_slowed_providers_are_shown_with_rate_and_return_to_full_speed(as_user, app):
    project = make_project()
    sender = make_sender(project, name="Newsletter")
    foreign = make_project()
    limiter = RateLimiter(get_redis(), project, sender, POLICY)
    client = as_user(make_user(project, "marketer"))
    assert b"No mail provider has asked us to slow down" in client.get("/admin/sending/").data

    at = utcnow().replace(microsecond=0)
    limiter.slow_down("google", "421 4.7.0", now=at)
    limiter.slow_down("mx:hostingco.net", "421", now=at - timedelta(minutes=5))
    RateLimiter(get_redis(), foreign, make_sender(foreign, name="Theirs"), POLICY).slow_down(
        "microsoft", "421 4.7.28"
    )
    page = html.unescape(client.get("/admin/sending/").get_data(as_text=True))
    assert (
        f"Google: slowed to 4 messages a second for sender Newsletter after a 421 4.7.0 reply "
        f"at {clock(at)} UTC; up to 5 at {clock(at + timedelta(seconds=30))} UTC, back to full "
        f"speed around {clock(at + timedelta(minutes=2))} UTC."
    ) in page
    assert "Mail servers of hostingco.net: slowed to" not in page  # lifted 3 minutes ago
    assert "Microsoft" not in page
    assert "Theirs" not in page
    assert "every one gets full speed" not in page
