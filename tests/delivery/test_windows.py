from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from mailapp.delivery import pipeline
from mailapp.delivery.windows import SendWindow, next_local_time, quiet_until, zone
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Contact, Delivery, ScheduleMode
from tests.factories import (
    add_contacts,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.pipeline import launch

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00", "timezone": "Europe/Berlin"}


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_window_opens_on_the_next_allowed_weekday():
    window = SendWindow.from_dict(OFFICE)
    friday_evening = utc(2026, 3, 13, 18, 30)  # 19:30 in Berlin
    assert not window.contains(friday_evening)
    assert window.next_open(friday_evening) == utc(2026, 3, 16, 8, 0)  # Monday 09:00 CET
    inside = utc(2026, 3, 16, 12, 0)
    assert window.contains(inside)
    assert window.next_open(inside) == inside


def test_window_across_the_dst_change_keeps_local_hours():
    window = SendWindow.from_dict(OFFICE)
    # Berlin moves to summer time on Sunday 2026-03-29: Monday 09:00 is 07:00 UTC.
    assert window.next_open(utc(2026, 3, 27, 18, 0)) == utc(2026, 3, 30, 7, 0)
    assert window.contains(utc(2026, 3, 30, 7, 0))
    assert not window.contains(utc(2026, 3, 30, 6, 59))


def test_overnight_window_and_validation():
    window = SendWindow.from_dict({"days": [4], "start": "22:00", "end": "02:00"})
    assert window.contains(utc(2026, 3, 13, 23, 0))  # Friday night
    assert window.contains(utc(2026, 3, 14, 1, 0))  # still Friday's window
    assert not window.contains(utc(2026, 3, 14, 23, 0))  # Saturday night
    with pytest.raises(ServiceError):
        SendWindow.from_dict({"days": [7]})
    with pytest.raises(ServiceError):
        SendWindow.from_dict({"start": "9h"})


def test_local_time_and_quiet_hours_follow_the_zone():
    # New York leaves summer time at 06:00 UTC on Nov 1: 09:00 that day is EST.
    new_york = ZoneInfo("America/New_York")
    assert next_local_time("09:00", new_york, utc(2026, 11, 1, 12, 0)) == utc(2026, 11, 1, 14, 0)
    assert next_local_time("09:00", new_york, utc(2026, 10, 31, 12, 0)) == utc(2026, 10, 31, 13, 0)
    assert zone("Nowhere/Atlantis", "Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    quiet = {"start": "21:00", "end": "08:00"}
    assert quiet_until(quiet, BERLIN, utc(2026, 7, 1, 21, 0)) == utc(2026, 7, 2, 6, 0)
    assert quiet_until(quiet, BERLIN, utc(2026, 7, 1, 12, 0)) is None


def scheduled_by_email(campaign_id):
    return dict(
        db.session.execute(
            sa.select(Contact.email, Delivery.scheduled_at)
            .join(Delivery, Delivery.contact_id == Contact.id)
            .where(Delivery.campaign_id == campaign_id)
        ).all()
    )


def test_local_time_campaign_schedules_each_zone_across_dst(app):
    project = make_project()
    project.timezone = "Asia/Tokyo"
    db.session.commit()
    lst = make_list(project, 0)
    for address, tz in (
        ("berlin@example.org", "Europe/Berlin"),
        ("ny@example.org", "America/New_York"),
        ("nowhere@example.org", None),
        ("bogus@example.org", "Mars/Olympus"),
    ):
        add_contacts(project, lst, [address], timezone=tz)
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [lst],
        schedule_mode=ScheduleMode.LOCAL_TIME,
        local_send_time="09:00",
    )
    # Saturday 2026-10-24 12:00 UTC: Berlin leaves summer time that night, New York a week later.
    now = utc(2026, 10, 24, 12, 0)
    launch(project, campaign, now=now)
    assert pipeline.prepare_deliveries(campaign.id, now=now) == 4
    at = scheduled_by_email(campaign.id)
    assert at["berlin@example.org"] == utc(2026, 10, 25, 8, 0)  # 09:00 CET (was CEST)
    assert at["ny@example.org"] == utc(2026, 10, 24, 13, 0)  # 09:00 EDT, the same day
    assert at["nowhere@example.org"] == utc(2026, 10, 25, 0, 0)  # 09:00 in Tokyo
    assert at["bogus@example.org"] == utc(2026, 10, 25, 0, 0)
    # Dispatch only hands out rows whose local time has come.
    plan = pipeline.plan_dispatch(now=utc(2026, 10, 24, 14, 0))
    assert sum(len(ids) for _, ids in plan.batches) == 1


def test_local_time_canary_waves_are_per_zone(app):
    project = make_project()
    lst = make_list(project, 0)
    add_contacts(project, lst, [f"b{i}@example.org" for i in range(20)], timezone="Europe/Berlin")
    add_contacts(
        project, lst, [f"n{i}@example.org" for i in range(20)], timezone="America/New_York"
    )
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [lst],
        schedule_mode=ScheduleMode.LOCAL_TIME,
        local_send_time="09:00",
        guardrails={"canary_share": 0.25, "canary_minutes": 30, "min_sample": 5},
    )
    now = utc(2026, 10, 24, 12, 0)
    launch(project, campaign, now=now)
    assert pipeline.prepare_deliveries(campaign.id, now=now) == 40
    at = scheduled_by_email(campaign.id)
    berlin, ny = utc(2026, 10, 25, 8, 0), utc(2026, 10, 24, 13, 0)
    half_hour = timedelta(minutes=30)
    assert {at[f"b{i}@example.org"] for i in range(20)} == {berlin, berlin + half_hour}
    assert {at[f"n{i}@example.org"] for i in range(20)} == {ny, ny + half_hour}
    first = sum(1 for when in at.values() if when in (berlin, ny))
    assert 2 <= first <= 18  # the canary share goes first in each zone


def test_send_window_pauses_a_long_campaign_and_resumes_inside(app):
    project = make_project()
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project),
        [make_list(project, 3)],
        send_window=OFFICE,
    )
    friday_evening = utc(2026, 3, 13, 18, 30)
    launch(project, campaign, now=friday_evening)
    pipeline.prepare_deliveries(campaign.id, now=friday_evening)
    assert set(scheduled_by_email(campaign.id).values()) == {utc(2026, 3, 16, 8, 0)}
    # Rows due earlier (say, deferred ones) still wait while the window is closed.
    db.session.execute(sa.update(Delivery).values(scheduled_at=utc(2026, 3, 13, 12, 0)))
    db.session.commit()
    assert pipeline.plan_dispatch(now=utc(2026, 3, 14, 10, 0)).batches == []
    monday = utc(2026, 3, 16, 8, 0) + timedelta(minutes=1)
    assert sum(len(ids) for _, ids in pipeline.plan_dispatch(now=monday).batches) == 3
