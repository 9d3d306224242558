"""The periodic alert checks: rates over thresholds, failing webhooks, silent processes.

Run about once a minute (`run_checks`) by a worker. The scheduler's job asks for it, and each
run asks for the next one a minute later (`keep_watch`), so the checks, the scheduler-silent
one included, go on while the scheduler is down. Queue depths and silent processes are
system-wide: `queues` and `heartbeats` judge them, and every project with the alert on hears.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
import sqlalchemy.orm
from flask import current_app

from mailapp.alerts.queues import growing_minutes, record_queue_depths
from mailapp.alerts.raising import ALERTS_PAGE, raise_alert, raise_everywhere, request_mail
from mailapp.alerts.settings import alert_settings
from mailapp.extensions import db
from mailapp.models import (
    Alert,
    AlertKind,
    AlertMailState,
    AttemptStatus,
    Delivery,
    Event,
    EventType,
    Message,
    Project,
    WebhookAttempt,
    WebhookEndpoint,
)
from mailapp.models.base import utcnow
from mailapp.runtime.health import HEARTBEATS_KEY

RATE_WINDOW = timedelta(hours=1)
# Fewer messages than this in the window say nothing about a rate.
RATE_MIN_SAMPLE = 100
# A process whose last beat is older than the health limit but within this is "just went
# silent"; older entries were reported already (or are from a stop long ago).
SILENT_WINDOW_SECONDS = 600
TURN_KEY = "mailapp:alerts:turn"
WATCH_KEY = "mailapp:alerts:watch"
TURN_SECONDS = 50
WATCH_SECONDS = 180
# What a check found: kind, subject, text, and the page to act on.
Found = tuple[AlertKind, str, str, str]


def take_turn(client: redis.Redis) -> bool:
    """Whether this run checks (at most one run in TURN_SECONDS, whoever asked for it)."""
    return bool(client.set(TURN_KEY, 1, nx=True, ex=TURN_SECONDS))


def keep_watch(client: redis.Redis, *, chained: bool) -> bool:
    """Whether this run should ask for the next one: the chain's own link always does; a run
    the scheduler asked for starts a chain only when none is alive."""
    if chained:
        client.set(WATCH_KEY, 1, ex=WATCH_SECONDS)
        return True
    return bool(client.set(WATCH_KEY, 1, nx=True, ex=WATCH_SECONDS))


def run_checks(client: redis.Redis, *, now: datetime | None = None) -> dict[str, int]:
    """Every periodic check once; how many alerts each kind raised."""
    now = now or utcnow()
    raised: dict[str, int] = {}
    projects = db.session.scalars(sa.select(Project).order_by(Project.id)).all()
    growth = {q: growing_minutes(client, q, now) for q in record_queue_depths(client, now)}
    silent = silent_processes(client, current_app.config["HEARTBEAT_MAX_AGE"], now.timestamp())
    for project in projects:
        found = [*rate_alerts(project, now), *webhook_alerts(project)]
        minutes = alert_settings(project)["queue_minutes"]
        found += [
            (
                AlertKind.QUEUE_GROWING,
                f"queue:{queue}",
                f"Background work of the kind {queue!r} has kept piling up for {grown} "
                "minutes: the workers do not keep up, or one is stuck. Check that they run "
                "and add workers if needed.",
                ALERTS_PAGE,
            )
            for queue, grown in growth.items()
            if grown >= minutes
        ]
        for kind, subject, text, link in found:
            if raise_alert(project, kind, subject, text, link, now=now) is not None:
                raised[kind.value] = raised.get(kind.value, 0) + 1
    for kind, subject, text, link in silent:
        if count := raise_everywhere(kind, subject, text, link, now=now):
            raised[kind.value] = count
    resend_pending(now)
    return raised


def rate_alerts(project: Project, now: datetime) -> list[Found]:
    """Bounce and complaint rates of the last hour, all mail of the project together."""
    since = now - RATE_WINDOW
    sent = sum(
        db.session.scalar(
            sa.select(sa.func.count()).where(model.project_id == project.id, model.sent_at > since)
        )
        or 0
        for model in (Delivery, Message)
    )
    if sent < RATE_MIN_SAMPLE:
        return []
    counts = dict(
        db.session.execute(
            sa.select(Event.type, sa.func.count())
            .where(
                Event.project_id == project.id,
                Event.occurred_at > since,
                Event.type.in_((EventType.BOUNCE_HARD, EventType.COMPLAINT)),
            )
            .group_by(Event.type)
        ).all()
    )
    settings = alert_settings(project)
    found = []
    for kind, event, key, words in (
        (AlertKind.BOUNCE_RATE, EventType.BOUNCE_HARD, "bounce_percent", "hard bounces"),
        (AlertKind.COMPLAINT_RATE, EventType.COMPLAINT, "complaint_percent", "spam complaints"),
    ):
        rate = 100 * counts.get(event, 0) / sent
        if rate > float(settings[key]):
            found.append(
                (
                    kind,
                    "project",
                    f"In the last hour {rate:.2f} % of the {sent:,} messages sent came back as "
                    f"{words} (your alert threshold: {float(settings[key]):g} %). Check which "
                    "lists and campaigns they come from before sending more.",
                    "/admin/analytics/",
                )
            )
    return found


def webhook_alerts(project: Project) -> list[Found]:
    """Endpoints whose tries have failed N times in a row (retries included)."""
    limit = int(alert_settings(project)["webhook_failures"])
    success = sa.orm.aliased(WebhookAttempt)
    last_success = (
        sa.select(sa.func.coalesce(sa.func.max(success.id), 0))
        .where(
            success.endpoint_id == WebhookEndpoint.id,
            success.status == AttemptStatus.SUCCEEDED,
        )
        .correlate(WebhookEndpoint)
        .scalar_subquery()
    )
    failures = (
        sa.select(sa.func.coalesce(sa.func.sum(WebhookAttempt.attempts), 0))
        .where(
            WebhookAttempt.endpoint_id == WebhookEndpoint.id,
            WebhookAttempt.id > last_success,
            WebhookAttempt.error.is_not(None),
        )
        .correlate(WebhookEndpoint)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.url, failures.label("failures")).where(
            WebhookEndpoint.project_id == project.id, WebhookEndpoint.active.is_(True)
        )
    ).all()
    return [
        (
            AlertKind.WEBHOOKS_FAILING,
            f"endpoint:{row.id}",
            f"The webhook receiver {row.url} failed {row.failures} times in a row; events "
            "for it are waiting. Check the receiver, then retry them from the webhook history.",
            "/admin/webhookattempt/",
        )
        for row in rows
        if row.failures >= limit
    ]


def silent_processes(client: redis.Redis, max_age: float, now: float | None = None) -> list[Found]:
    """A worker process that stopped beating lately; the scheduler when none beats."""
    now = time.time() if now is None else now
    beats = {k.decode(): float(v) for k, v in client.hgetall(HEARTBEATS_KEY).items()}
    found = []
    workers = {k: now - ts for k, ts in beats.items() if k.startswith("worker:")}
    lately = sorted(a for a in workers.values() if max_age < a <= max_age + SILENT_WINDOW_SECONDS)
    if lately:
        found.append(
            (
                AlertKind.WORKER_SILENT,
                "workers",
                f"A background worker process stopped reporting {int(lately[0] // 60)} "
                "minutes ago. If nobody restarted it on purpose, check the worker processes: "
                "sending, imports and webhooks depend on them.",
                ALERTS_PAGE,
            )
        )
    scheduler = [now - ts for k, ts in beats.items() if k.startswith("scheduler:")]
    if scheduler and min(scheduler) > max_age:
        found.append(
            (
                AlertKind.SCHEDULER_SILENT,
                "scheduler",
                f"The scheduler has not reported for {int(min(scheduler) // 60)} minutes: "
                "scheduled campaigns and periodic jobs do not start. Check the scheduler "
                "process.",
                ALERTS_PAGE,
            )
        )
    return found


def resend_pending(now: datetime) -> int:
    """Ask again for the mail of alerts still pending (deferred, or never asked for)."""
    ids = db.session.scalars(
        sa.select(Alert.id).where(
            Alert.mail_state == AlertMailState.PENDING,
            Alert.created_at > now - timedelta(days=1),
            Alert.created_at < now - timedelta(minutes=1),
        )
    ).all()
    for alert_id in ids:
        request_mail(alert_id)
    return len(ids)
