"""When a campaign's first and last message will go out: an estimate for the review page,
the campaign list and a running campaign's details.

The estimate replays what the send path does, in steps of minutes rather than messages:
rows become due (the schedule, each contact's local time, the canary or A/B first wave and
its wait, quiet hours), the send window closes and opens, and the sender's limits (per
second, per hour, per day and the warm-up cap) and the project's daily quota hold sending
back within their fixed windows (UTC hours and days, as `ratelimits` counts them). Where no
limit holds, the workers' own pace is the limit (WORKER_RATE). It never reads a row per
contact: the due times come from one grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import redis
import sqlalchemy as sa

from mailapp.delivery.campaigns import OPEN_DELIVERIES
from mailapp.delivery.ratelimits import warmup_cap
from mailapp.delivery.recipients import audience_zones
from mailapp.delivery.windows import SendWindow, next_local_time, quiet_until, zone
from mailapp.extensions import db, get_redis
from mailapp.models import Campaign, Delivery, Project, ScheduleMode, Sender
from mailapp.models.base import utcnow

# Messages per second the workers send when no limit holds them back: a default deployment
# (2 worker processes x 4 threads) does 1,000-1,300 in bench/bench_send.py.
WORKER_RATE = 1000.0
HORIZON = timedelta(days=366)  # past the first due time; beyond it: "more than a year"
MAX_DUE_GROUPS = 500  # distinct due times read for a running campaign; later ones merge
EPS = 1e-6


@dataclass(frozen=True)
class Limits:
    """The caps sending obeys; None = no such cap."""

    per_second: float | None = None
    per_hour: int | None = None
    per_day: int | None = None
    quota_per_day: int | None = None
    warmup: dict | None = None  # the sender's warm-up plan
    sent_today: int = 0  # already counted today against the sender's day cap
    quota_used_today: int = 0  # already counted today against the project's quota

    def day_cap(self, day: date) -> float:
        """Messages allowed on a UTC day: the smallest of the day caps."""
        caps = [c for c in (self.per_day, self.quota_per_day) if c]
        if self.warmup:
            cap = warmup_cap(SimpleNamespace(warmup_plan=self.warmup), day)  # type: ignore[arg-type]
            if cap:
                caps.append(cap)
        return float(min(caps)) if caps else float("inf")

    def used_on(self, day: date, today: date) -> int:
        """What other sending already took from that day's caps (only today is known)."""
        if day != today:
            return 0
        return max(self.sent_today, self.quota_used_today if self.quota_per_day else 0)


@dataclass(frozen=True)
class Estimate:
    """First and last send moments (UTC); `last` None when beyond the horizon."""

    count: int
    first: datetime | None
    last: datetime | None
    held_by: str | None = None  # the limit that made it take longest, in plain words


def _window_close(window: SendWindow, at: datetime) -> datetime:
    """When the window `at` is inside closes next."""
    local = at.astimezone(window.tz)
    day = local.date()
    if window.start > window.end and local.time() >= window.start:
        day += timedelta(days=1)
    close = datetime.combine(day, window.end, tzinfo=window.tz)
    return close.astimezone(UTC)


def estimate_sending(
    due: list[tuple[datetime, int]],
    limits: Limits,
    window: SendWindow | None = None,
    *,
    now: datetime,
) -> Estimate:
    """Replay sending of `due` (moment rows become due, rows) under the limits and window."""
    due = sorted((max(at, now), n) for at, n in due if n > 0)
    total = sum(n for _, n in due)
    if not due:
        return Estimate(0, None, None)
    rate = min(limits.per_second or WORKER_RATE, WORKER_RATE)
    # Counts are replayed as fractions of messages per step; EPS absorbs the rounding.
    t, pending, index, sent = due[0][0], 0.0, 0, 0.0
    first: datetime | None = None
    hour_key = day_key = None
    hour_sent = day_sent = 0.0
    held: dict[str, float] = {}

    def result(last: datetime | None) -> Estimate:
        return Estimate(total, first, last, max(held, key=held.__getitem__) if held else None)

    horizon = due[0][0] + HORIZON
    while sent < total - EPS:
        if t > horizon:
            return result(None)
        while index < len(due) and due[index][0] <= t:
            pending += due[index][1]
            index += 1
        if pending <= EPS:
            t = due[index][0]
            continue
        if window and not window.contains(t):
            opens = window.next_open(t)
            held["the send window"] = held.get("the send window", 0) + (opens - t).total_seconds()
            t = opens
            continue
        hour = t.replace(minute=0, second=0, microsecond=0)
        day = hour.replace(hour=0)
        if hour != hour_key:
            hour_key, hour_sent = hour, 0.0
        if day != day_key:
            day_key = day
            day_sent = float(limits.used_on(day.date(), now.date()))
        next_hour, next_day = hour + timedelta(hours=1), day + timedelta(days=1)
        hour_room = (limits.per_hour - hour_sent) if limits.per_hour else float("inf")
        day_room = limits.day_cap(day.date()) - day_sent
        if day_room <= EPS or hour_room <= EPS:
            resume, name = (
                (next_day, "the daily limit")
                if day_room <= EPS
                else (next_hour, "the hourly limit")
            )
            held[name] = held.get(name, 0) + (resume - t).total_seconds()
            t = resume
            continue
        end = min(next_hour, next_day)
        if window:
            end = min(end, _window_close(window, t))
        if index < len(due):
            end = min(end, due[index][0])
        batch = min(pending, hour_room, day_room, rate * (end - t).total_seconds())
        if first is None:
            first = t
        sent += batch
        pending -= batch
        hour_sent += batch
        day_sent += batch
        finished = t + timedelta(seconds=batch / rate)
        if sent >= total - EPS:
            return result(finished)
        t = max(min(finished, end), t + timedelta(milliseconds=1))
    return result(t)


def _limits(project: Project, sender: Sender | None, now: datetime) -> Limits:
    quota = (project.settings or {}).get("quota_messages_per_day")
    sent_today = quota_used = 0
    if sender is not None or quota:
        try:
            client = get_redis()
            day = f"{now:%Y%m%d}"
            if sender is not None:
                sent_today = int(client.get(f"rl:s:{sender.id}:day:{day}") or 0)
            quota_used = int(client.get(f"rl:quota:{project.id}:{day}") or 0)
        except redis.RedisError:
            pass  # an estimate without today's counters is still an estimate
    if sender is None:
        return Limits(quota_per_day=quota, quota_used_today=quota_used)
    return Limits(
        per_second=sender.rate_per_second,
        per_hour=sender.rate_per_hour,
        per_day=sender.rate_per_day,
        quota_per_day=quota,
        warmup=sender.warmup_plan or None,
        sent_today=sent_today,
        quota_used_today=quota_used,
    )


def _waves(campaign: Campaign) -> tuple[float, timedelta]:
    """The share sent first (canary or A/B test share) and how long the rest waits."""
    if campaign.ab_test:
        share = float(campaign.ab_test.get("test_share", 0))
        return share, timedelta(minutes=float(campaign.ab_test.get("decide_after_minutes", 240)))
    canary = float((campaign.guardrails or {}).get("canary_share") or 0)
    return canary, timedelta(minutes=float((campaign.guardrails or {}).get("canary_minutes", 60)))


def planned_due(project: Project, campaign: Campaign, now: datetime) -> list[tuple[datetime, int]]:
    """When the audience's rows will become due, as prepare would schedule them now."""
    audience = (campaign.snapshot or {}).get("audience") or campaign.audience or {}
    quiet = (project.settings or {}).get("quiet_hours")
    share, wait = _waves(campaign)
    start = now
    if campaign.schedule_mode == ScheduleMode.AT and campaign.send_at:
        start = max(campaign.send_at, now)
    due: list[tuple[datetime, int]] = []
    for name, count in audience_zones(project.id, audience):
        tz = zone(name, project.timezone)
        at = start
        if campaign.schedule_mode == ScheduleMode.LOCAL_TIME and campaign.local_send_time:
            at = next_local_time(campaign.local_send_time, tz, now)
        waves = [(at, count)]
        if share:
            first_wave = round(count * share)
            waves = [(at, first_wave), (at + wait, count - first_wave)]
        for moment, rows in waves:
            due.append((quiet_until(quiet, tz, moment) or moment, rows))
    return due


def remaining_due(campaign: Campaign) -> list[tuple[datetime, int]]:
    """Due times of a prepared campaign's rows still waiting, grouped."""
    waiting = (
        Delivery.project_id == campaign.project_id,
        Delivery.campaign_id == campaign.id,
        Delivery.status.in_(OPEN_DELIVERIES),
    )
    rows = db.session.execute(
        sa.select(Delivery.scheduled_at, sa.func.count())
        .where(*waiting)
        .group_by(Delivery.scheduled_at)
        .order_by(Delivery.scheduled_at)
        .limit(MAX_DUE_GROUPS)
    ).all()
    due = [(at, count) for at, count in rows]
    if len(due) == MAX_DUE_GROUPS:
        # Deferred rows each have their own retry time: the rest count from the last one.
        rest = db.session.scalar(
            sa.select(sa.func.count()).where(*waiting, Delivery.scheduled_at > due[-1][0])
        )
        due.append((due[-1][0], rest or 0))
    return due


def campaign_eta(project: Project, campaign: Campaign, *, now: datetime | None = None) -> Estimate:
    """The first and last send moments of a draft (as if launched now) or running campaign."""
    now = now or utcnow()
    sender = db.session.get(Sender, campaign.sender_id) if campaign.sender_id else None
    prepared = bool((campaign.snapshot or {}).get("prepared_at"))
    due = remaining_due(campaign) if prepared else planned_due(project, campaign, now)
    window = (
        SendWindow.from_dict(campaign.send_window, project.timezone)
        if campaign.send_window
        else None
    )
    try:
        return estimate_sending(due, _limits(project, sender, now), window, now=now)
    except OverflowError:  # a schedule near the end of the calendar (set through the API)
        first = min((at for at, n in due if n), default=None)
        return Estimate(sum(n for _, n in due), first, None)
