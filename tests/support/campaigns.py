"""Helpers of the campaign tests: a marketer with a draft to launch, a send time that stays in
the future and inside a weekday window, and a moment written as the back office writes it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailapp.extensions import db
from tests.factories import (
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
    make_user,
)

BERLIN = ZoneInfo("Europe/Berlin")


def next_tuesday_morning() -> datetime:
    """A Tuesday about two months ahead, 09:30 in Berlin: inside a Mon-Fri window, no DST."""
    day = datetime.now(BERLIN).date() + timedelta(days=60)
    day += timedelta(days=(1 - day.weekday()) % 7)
    return datetime.combine(day, time(9, 30), tzinfo=BERLIN)


def shown(at: datetime) -> str:
    """A moment as the back office writes it (the `when` filter) in Berlin."""
    return at.astimezone(BERLIN).strftime("%-d %b %Y, %H:%M %Z")


def marketer(as_user, timezone="Europe/Berlin"):
    project = make_project()
    project.timezone = timezone
    db.session.commit()
    client = as_user(make_user(project, "marketer"))
    return project, client


def two_person_draft(as_user):
    """A marketer's client and a draft, ready to launch, whose audience is two people."""
    project, client = marketer(as_user)
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 2)]
    )
    return client, campaign
