"""The scheduler process: `python -m workers.scheduler`.

One declarative table of jobs; each job only enqueues an actor. Several instances may
run (one per host for failover); a Redis lock makes exactly one of them active.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from mailapp.runtime.tracing import setup_tracing, traced_job

log = logging.getLogger("workers.scheduler")

LOCK_KEY = "mailapp:scheduler:leader"
# APScheduler writes "Running job ..." and "Job ... executed successfully" here at INFO.
JOB_RUNS_LOGGER = "apscheduler.executors.default"


@dataclass(frozen=True)
class Job:
    id: str
    actor: str  # "module:name" of a Dramatiq actor
    trigger: str  # an APScheduler trigger name: "interval" or "cron"
    trigger_args: dict[str, Any] = field(default_factory=dict)


JOBS: tuple[Job, ...] = (
    Job(
        "prune-heartbeats",
        "workers.actors.maintenance:prune_stale_heartbeats",
        "interval",
        {"hours": 1},
    ),
    Job("dispatch-deliveries", "workers.actors.sending:dispatch", "interval", {"seconds": 2}),
    Job(
        "drain-tracking-events",
        "workers.actors.tracking:drain_tracking_events",
        "interval",
        {"seconds": 3},
    ),
    Job(
        "purge-expired-events",
        "workers.actors.tracking:purge_expired_events",
        "cron",
        {"hour": 3, "minute": 17},
    ),
    Job(
        "poll-bounce-mailbox",
        "workers.actors.feedback:poll_bounce_mailbox",
        "interval",
        {"minutes": 1},
    ),
    Job(
        "deliver-webhooks",
        "workers.actors.webhooks:deliver_due_webhooks",
        "interval",
        {"seconds": 10},
    ),
    Job(
        "expire-unconfirmed-subscriptions",
        "workers.actors.audience:expire_unconfirmed",
        "interval",
        {"hours": 1},
    ),
    # Journeys' durable waits: due rows woken in set-based batches (never delayed messages).
    Job("wake-journeys", "workers.actors.journeys:wake_journeys", "interval", {"seconds": 10}),
    # Who starts a journey: joins, tags, segments, events, opens, dates (mailapp.journeys.triggers).
    Job(
        "scan-journey-triggers",
        "workers.actors.journeys:scan_journey_triggers",
        "interval",
        {"seconds": 30},
    ),
    Job("check-alerts", "workers.actors.alerts:check_alerts", "interval", {"minutes": 1}),
    # A DNS record changed or removed by someone else shows within 6 hours (an alert).
    Job(
        "check-sender-domains",
        "workers.actors.domains:check_sender_domains",
        "interval",
        {"hours": 6},
    ),
)


class LeaderLock:
    """A Redis lease: held by one instance id, renewed before it expires."""

    _RENEW = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
    )
    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('del', KEYS[1]) end return 0"
    )

    def __init__(self, client: redis.Redis, instance: str, ttl: float) -> None:
        self.client = client
        self.instance = instance
        self.ttl_ms = int(ttl * 1000)

    def acquire(self) -> bool:
        return bool(self.client.set(LOCK_KEY, self.instance, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        return bool(self.client.eval(self._RENEW, 1, LOCK_KEY, self.instance, self.ttl_ms))

    def release(self) -> None:
        self.client.eval(self._RELEASE, 1, LOCK_KEY, self.instance)


def enqueue(actor_path: str) -> Callable[[], None]:
    module_name, name = actor_path.split(":")

    def send() -> None:
        module = __import__(module_name, fromlist=[name])
        getattr(module, name).send()

    send.__name__ = f"enqueue_{name}"
    return send


class JobRunsAtDebug(logging.Filter):
    """A job's start and success lines are DEBUG lines: two a run, several a second in all,
    they would bury everything else at INFO. A missed run or a failure keeps its level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        if not logging.getLogger(JOB_RUNS_LOGGER).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_job_runs() -> None:
    """Job-run lines at DEBUG (idempotent)."""
    logger = logging.getLogger(JOB_RUNS_LOGGER)
    if not any(isinstance(f, JobRunsAtDebug) for f in logger.filters):
        logger.addFilter(JobRunsAtDebug())


def build_scheduler(
    jobs: tuple[Job, ...], beat: Callable[[], None], beat_seconds: float
) -> BackgroundScheduler:
    quiet_job_runs()
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    scheduler.add_job(beat, "interval", seconds=beat_seconds, id="heartbeat")
    for job in jobs:
        run = traced_job(job.id, enqueue(job.actor))
        scheduler.add_job(run, job.trigger, id=job.id, **job.trigger_args)
    return scheduler


def run(
    client: redis.Redis,
    stop: threading.Event,
    *,
    ttl: float,
    beat_seconds: float,
    jobs: tuple[Job, ...] = JOBS,
) -> None:
    """Wait for the lock, run the jobs while holding it, step down when it is lost."""
    from mailapp.runtime.health import beat as record_beat

    instance = f"{socket.gethostname()}:{os.getpid()}"
    lock = LeaderLock(client, instance, ttl)
    log.info("scheduler %s started; waiting for the leader lock", instance)
    while not stop.is_set():
        try:
            leader = lock.acquire()
        except redis.RedisError as exc:
            log.warning("redis unavailable (%s); retrying", exc)
            leader = False
        if not leader:
            stop.wait(ttl / 3)
            continue
        log.info("scheduler %s is the active instance", instance)

        def beat() -> None:
            record_beat(client, "scheduler", instance)

        scheduler = build_scheduler(jobs, beat, beat_seconds)
        scheduler.start()
        beat()
        while not stop.wait(ttl / 3):
            try:
                if not lock.renew():
                    log.warning("scheduler %s lost the leader lock; standing by", instance)
                    break
            except redis.RedisError as exc:
                log.warning("could not renew the leader lock (%s); standing by", exc)
                break
        scheduler.shutdown(wait=False)
    with contextlib.suppress(redis.RedisError):
        lock.release()
    log.info("scheduler %s stopped", instance)


def main() -> None:
    from mailapp import ConfigError, create_app
    from mailapp.extensions import get_redis
    from mailapp.runtime.checks import ServiceUnavailable, wait_for_services

    try:
        app = create_app()
        setup_tracing("scheduler")
    except ConfigError as exc:
        sys.exit(f"mailapp scheduler: configuration error: {exc}")
    with app.app_context():
        try:
            wait_for_services(app.config, get_redis(), float(os.environ.get("STARTUP_WAIT", "15")))
        except ServiceUnavailable as exc:
            sys.exit(f"mailapp scheduler: {exc}")
        import workers.actors  # noqa: F401 - builds the broker the jobs enqueue into

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        run(
            redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=5),
            stop,
            ttl=app.config["SCHEDULER_LOCK_TTL"],
            beat_seconds=float(os.environ.get("SCHEDULER_HEARTBEAT_SECONDS", "10")),
        )


if __name__ == "__main__":
    main()
