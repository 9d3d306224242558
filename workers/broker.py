"""The Dramatiq broker and its middleware; imported before any actor module.

DRAMATIQ_BROKER=stub gives the in-memory broker for unit tests; otherwise Redis at
REDIS_URL (the embedded development server when unset).

Recovery in seconds: each worker process's heartbeat thread also beats for the broker
(Dramatiq's own heartbeat is only sent when a consumer talks to Redis, which a busy
process with a full prefetch does not) and runs the broker's maintenance, which hands the
messages a process held unacknowledged (prefetched, or in progress) back to their queue
once that process has not beaten for WORKER_LOST_AFTER_SECONDS. A killed worker's batches
are thus sent by another within about that time; the rows' claims keep every message
from going out twice. A stop request (SIGTERM) is passed to `mailapp.runtime.shutdown`,
so a batch hands back the groups it has not started.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from dramatiq.middleware import Middleware, Retries, TimeLimit
from flask import Flask

from mailapp.config import redis_url
from mailapp.runtime.health import beat
from mailapp.runtime.logs import bind_ids, unbind_ids
from mailapp.runtime.shutdown import clear_stop, request_stop
from workers.metrics import MessageMetrics
from workers.tracing import TraceMessages

log = logging.getLogger(__name__)

# Our defaults; each actor states its own queue, retries and time limit where they differ.
DEFAULT_MAX_RETRIES = 5
DEFAULT_TIME_LIMIT_MS = 10 * 60 * 1000
HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "10"))
# A worker process silent this long is dead: the broker hands its messages out again.
LOST_AFTER_SECONDS = float(os.environ.get("WORKER_LOST_AFTER_SECONDS", "15"))
# Beat often enough that a live process is never taken for a dead one.
BEAT_SECONDS = min(HEARTBEAT_SECONDS, LOST_AFTER_SECONDS / 3)


class RecoveringRedisBroker(RedisBroker):
    """The Redis broker, with a heartbeat and maintenance run on demand."""

    def __init__(self, **options: Any) -> None:
        super().__init__(heartbeat_timeout=int(LOST_AFTER_SECONDS * 1000), **options)
        self._forced = threading.local()

    def _should_do_maintenance(self, command: str) -> int:
        if getattr(self._forced, "on", False):
            return 1
        return super()._should_do_maintenance(command)

    def beat_and_recover(self) -> None:
        """Record this process as alive and requeue what dead processes held."""
        self._forced.on = True
        try:
            for queue in sorted(self.get_declared_queues()):
                # Any command beats for this process; maintenance runs per queue.
                self.do_qsize(queue)
                self.do_qsize(dq_name(queue))
        finally:
            self._forced.on = False


class AppContext(Middleware):
    """Runs every message inside a Flask app context (one app per worker process)."""

    def __init__(self) -> None:
        self.app: Flask | None = None
        self._local = threading.local()

    def set_app(self, app: Flask | None) -> None:
        self.app = app

    def get_app(self) -> Flask:
        if self.app is None:
            from mailapp import create_app

            self.app = create_app()
        return self.app

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        self.get_app()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        ctx = self.get_app().app_context()
        ctx.push()
        self._local.ctx = ctx

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        ctx = getattr(self._local, "ctx", None)
        if ctx is not None:
            from mailapp.extensions import db

            db.session.remove()
            ctx.pop()
            self._local.ctx = None

    after_skip_message = after_process_message


class LogContext(Middleware):
    """Every line logged while a message is processed names the message and its actor."""

    def __init__(self) -> None:
        self._local = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        self._local.token = bind_ids(message_id=message.message_id, actor=message.actor_name)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        token = getattr(self._local, "token", None)
        if token is not None:
            unbind_ids(token)
            self._local.token = None

    after_skip_message = after_process_message


class Heartbeat(Middleware):
    """Each worker process tells Redis it is alive, for /health and for the broker."""

    def __init__(self, app_context: AppContext) -> None:
        self.app_context = app_context
        self.stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        clear_stop()
        if threading.current_thread() is threading.main_thread():
            _absorb_repeated_sigterm()
        self.stop = threading.Event()
        threading.Thread(
            target=self._run, args=(broker, self.stop), name="heartbeat", daemon=True
        ).start()

    def _run(self, broker: dramatiq.Broker, stop: threading.Event) -> None:
        client = redis.Redis.from_url(self.app_context.get_app().config["REDIS_URL"])
        instance = f"{socket.gethostname()}:{os.getpid()}"
        last_health = 0.0
        while not stop.is_set():
            try:
                if isinstance(broker, RecoveringRedisBroker):
                    broker.beat_and_recover()
                if time.monotonic() - last_health >= HEARTBEAT_SECONDS:
                    beat(client, "worker", instance)
                    last_health = time.monotonic()
            except redis.RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
            stop.wait(BEAT_SECONDS)
        client.close()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Batches hand back what they have not started; the heartbeat goes on while they
        # finish, so the broker does not take this process for a dead one meanwhile.
        request_stop()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop.set()
        clear_stop()


# A platform stopping a dyno or container signals every process of the group (Heroku:
# SIGTERM to all, SIGKILL 30 s later), and Dramatiq's main process forwards the same SIGTERM
# to its worker processes, which take a second SIGTERM as "kill now", abandoning batches
# mid-group. A repeat this soon after the first is that same stop, and is absorbed.
REPEATED_SIGTERM_SECONDS = 5.0


def _absorb_repeated_sigterm() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return
    first: list[float] = []

    def handler(signum: int, frame: Any) -> None:
        now = time.monotonic()
        if first and now - first[0] < REPEATED_SIGTERM_SECONDS:
            log.info("SIGTERM repeated: already stopping")
            return
        first[:] = [now]
        previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)


def build_broker() -> dramatiq.Broker:
    if os.environ.get("DRAMATIQ_BROKER") == "stub":
        broker: dramatiq.Broker = StubBroker()
    else:
        broker = RecoveringRedisBroker(url=redis_url(os.environ))
    for middleware in list(broker.middleware):
        if isinstance(middleware, Retries | TimeLimit):
            broker.middleware.remove(middleware)
    broker.add_middleware(Retries(max_retries=DEFAULT_MAX_RETRIES, min_backoff=1000))
    broker.add_middleware(TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS))
    broker.add_middleware(app_context)
    # First, so its after hook runs last: the lines other middleware write about a message
    # (a retry, a time limit) name it too.
    broker.add_middleware(LogContext(), before=type(broker.middleware[0]))
    broker.add_middleware(Heartbeat(app_context))
    broker.add_middleware(MessageMetrics())
    broker.add_middleware(TraceMessages())
    return broker


app_context = AppContext()
broker = build_broker()
dramatiq.set_broker(broker)
