"""The alert actors: a check runs at most once a minute whoever asks, and keeps one chain of
checks going a minute apart, so the checks outlive a silent scheduler."""

from __future__ import annotations

import time

import sqlalchemy as sa
from dramatiq import Message
from dramatiq.common import dq_name

from mailapp.extensions import db, get_redis
from mailapp.models import Alert, AlertKind
from mailapp.runtime.health import HEARTBEATS_KEY
from tests.factories import make_project
from workers.actors.alerts import WATCH_DELAY_MS, check_alerts
from workers.broker import broker
from workers.scheduler import JOBS


def delayed() -> list[Message]:
    return [Message.decode(m) for m in broker.queues[dq_name(check_alerts.queue_name)].queue]


def test_checks_run_once_per_turn_and_one_chain_keeps_watch(app):
    make_project()
    get_redis().hset(HEARTBEATS_KEY, "scheduler:host:1", time.time() - 600)
    check_alerts.fn()  # the scheduler's job
    assert db.session.scalars(sa.select(Alert.kind)).all() == [AlertKind.SCHEDULER_SILENT]
    [link] = delayed()
    assert link.args == (True,)
    assert link.options["eta"] - link.message_timestamp >= WATCH_DELAY_MS

    # The scheduler asks again within the minute: no second run, no second chain.
    get_redis().hset(HEARTBEATS_KEY, "worker:host:2", time.time() - 180)
    check_alerts.fn()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 1
    assert len(delayed()) == 1

    # The chain's own link always asks for the next one, and checks once its turn comes.
    get_redis().delete("mailapp:alerts:turn")
    check_alerts.fn(True)
    assert len(delayed()) == 2
    kinds = set(db.session.scalars(sa.select(Alert.kind)).all())
    assert kinds == {AlertKind.SCHEDULER_SILENT, AlertKind.WORKER_SILENT}


def test_the_checks_are_scheduled_every_minute():
    [job] = [j for j in JOBS if j.actor == "workers.actors.alerts:check_alerts"]
    assert (job.trigger, job.trigger_args) == ("interval", {"minutes": 1})
