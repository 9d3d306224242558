"""When the first and last message go out: the replay of limits, warm-up, quota and window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from mailapp.delivery import pipeline
from mailapp.delivery.eta import WORKER_RATE, Limits, campaign_eta, estimate_sending
from mailapp.delivery.launch import launch_campaign
from mailapp.delivery.windows import SendWindow
from mailapp.extensions import db
from mailapp.models import ScheduleMode
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)

# A Monday, 10:00 UTC.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_without_limits_the_workers_pace_sets_the_end():
    estimate = estimate_sending([(NOW, 5000)], Limits(), now=NOW)
    assert estimate.first == NOW
    assert estimate.last == NOW + timedelta(seconds=5000 / WORKER_RATE)


def test_per_second_and_hourly_limits():
    per_second = estimate_sending([(NOW, 600)], Limits(per_second=10), now=NOW)
    assert per_second.last == NOW + timedelta(seconds=60)
    # 100 an hour: 250 messages need this hour, the next, and half of the third.
    hourly = estimate_sending([(NOW, 250)], Limits(per_second=100, per_hour=100), now=NOW)
    assert hourly.last == NOW + timedelta(hours=2, seconds=0.5)
    assert hourly.held_by == "the hourly limit"


def test_warmup_caps_and_daily_quota_spread_over_days():
    warmup = {"start": "2026-03-02", "daily_caps": [100, 200]}
    estimate = estimate_sending([(NOW, 400)], Limits(per_second=1000, warmup=warmup), now=NOW)
    # 100 today, 200 tomorrow, then no cap: the last 100 go out at the start of day three.
    assert estimate.last == datetime(2026, 3, 4, tzinfo=UTC) + timedelta(seconds=0.1)
    assert estimate.held_by == "the daily limit"
    used = estimate_sending(
        [(NOW, 50)], Limits(per_second=1000, quota_per_day=100, quota_used_today=80), now=NOW
    )
    assert used.last.date() == datetime(2026, 3, 3).date()


def test_send_window_closes_and_opens():
    window = SendWindow.from_dict({"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"})
    friday_evening = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)
    estimate = estimate_sending([(friday_evening, 10)], Limits(per_second=10), window, now=NOW)
    assert estimate.first == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # Monday morning
    assert estimate.last == datetime(2026, 3, 9, 9, 0, 1, tzinfo=UTC)
    # 1 per second, 7 hours left on Monday (25,200), the rest on Tuesday from 09:00.
    long = estimate_sending([(NOW, 30_000)], Limits(per_second=1), window, now=NOW)
    assert long.last == datetime(2026, 3, 3, 10, 20, tzinfo=UTC)
    assert long.held_by == "the send window"


def test_waves_arrive_later():
    estimate = estimate_sending(
        [(NOW, 10), (NOW + timedelta(hours=1), 90)], Limits(per_second=10), now=NOW
    )
    assert estimate.first == NOW
    assert estimate.last == NOW + timedelta(hours=1, seconds=9)


def test_nothing_to_send_has_no_times():
    assert estimate_sending([], Limits(), now=NOW).first is None


def test_campaign_eta_of_a_draft_and_of_a_prepared_campaign(app, redis_url):
    project = make_project()
    sender = make_sender(project, rate_per_second=2)
    campaign = make_campaign(
        project,
        sender,
        make_template(project),
        [make_list(project, 20)],
        schedule_mode=ScheduleMode.AT,
        send_at=NOW + timedelta(days=1),
    )
    draft = campaign_eta(project, campaign, now=NOW)
    assert (draft.count, draft.first) == (20, NOW + timedelta(days=1))
    assert draft.last == NOW + timedelta(days=1, seconds=10)
    # Other mail already took today's day cap: this one waits for tomorrow anyway.
    sender.rate_per_day = 5
    db.session.commit()
    redis.Redis.from_url(redis_url).set(f"rl:s:{sender.id}:day:{NOW:%Y%m%d}", 5)
    campaign.send_at = NOW
    now_eta = campaign_eta(project, campaign, now=NOW)
    assert now_eta.first == datetime(2026, 3, 3, tzinfo=UTC)
    assert now_eta.last.date() == datetime(2026, 3, 6).date()  # 5 a day: 4 days

    sender.rate_per_day = None
    campaign.send_at = NOW + timedelta(days=1)
    db.session.commit()
    launch_campaign(project, campaign.id, actor=TEST_ACTOR, now=NOW)
    pipeline.prepare_deliveries(campaign.id, now=NOW)
    prepared = campaign_eta(project, db.session.get(type(campaign), campaign.id), now=NOW)
    assert (prepared.count, prepared.first) == (20, NOW + timedelta(days=1))


def test_local_time_campaigns_start_in_the_earliest_zone(app):
    project = make_project()
    lst = make_list(project, 2, timezone="Asia/Tokyo")
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [lst],
        schedule_mode=ScheduleMode.LOCAL_TIME,
        local_send_time="09:00",
    )
    estimate = campaign_eta(project, campaign, now=NOW)
    # 09:00 in Tokyo is 00:00 UTC: the next one after Monday 10:00 UTC is Tuesday's.
    assert estimate.first == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


def test_a_schedule_at_the_end_of_the_calendar_does_not_break_the_estimate(app):
    project = make_project()
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [make_list(project, 2)],
        schedule_mode=ScheduleMode.AT,
        send_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
    )
    estimate = campaign_eta(project, campaign, now=NOW)
    assert (estimate.count, estimate.first, estimate.last) == (
        2,
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
        None,
    )


def test_a_canary_sends_its_share_first_and_the_rest_after_its_wait(app):
    project = make_project()
    project.settings = {**project.settings, "quiet_hours": {"start": "21:00", "end": "08:00"}}
    db.session.commit()
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [make_list(project, 10)],
        guardrails={"canary_share": 0.2, "canary_minutes": 30},
    )
    estimate = campaign_eta(project, campaign, now=NOW)
    assert estimate.first == NOW
    assert estimate.last == NOW + timedelta(minutes=30, seconds=8 / WORKER_RATE)
    # Launched at 20:50 UTC, the rest would fall in the quiet hours: it waits for 08:00.
    evening = NOW.replace(hour=20, minute=50)
    late = campaign_eta(project, campaign, now=evening)
    assert late.last == datetime(2026, 3, 3, 8, 0, tzinfo=UTC) + timedelta(seconds=8 / WORKER_RATE)
