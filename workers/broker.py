"""The Dramatiq broker and its middleware; imported before any actor module.

DRAMATIQ_BROKER=stub gives the in-memory broker for unit tests; otherwise Redis at
REDIS_URL (the embedded development server when unset).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, TimeLimit
from flask import Flask

from mailapp.config import redis_url
from mailapp.runtime.health import beat

log = logging.getLogger(__name__)

# Our defaults; each actor states its own queue, retries and time limit where they differ.
DEFAULT_MAX_RETRIES = 5
DEFAULT_TIME_LIMIT_MS = 10 * 60 * 1000
HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "10"))


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


class Heartbeat(Middleware):
    """Each worker process tells Redis it is alive, for /health."""

    def __init__(self, app_context: AppContext) -> None:
        self.app_context = app_context
        self.stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop = threading.Event()
        threading.Thread(target=self._run, args=(self.stop,), name="heartbeat", daemon=True).start()

    def _run(self, stop: threading.Event) -> None:
        client = redis.Redis.from_url(self.app_context.get_app().config["REDIS_URL"])
        instance = f"{socket.gethostname()}:{os.getpid()}"
        while not stop.is_set():
            try:
                beat(client, "worker", instance)
            except redis.RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
            stop.wait(HEARTBEAT_SECONDS)
        client.close()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop.set()


def build_broker() -> dramatiq.Broker:
    if os.environ.get("DRAMATIQ_BROKER") == "stub":
        broker: dramatiq.Broker = StubBroker()
    else:
        broker = RedisBroker(url=redis_url(os.environ))
    for middleware in list(broker.middleware):
        if isinstance(middleware, Retries | TimeLimit):
            broker.middleware.remove(middleware)
    broker.add_middleware(Retries(max_retries=DEFAULT_MAX_RETRIES, min_backoff=1000))
    broker.add_middleware(TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS))
    broker.add_middleware(app_context)
    broker.add_middleware(Heartbeat(app_context))
    return broker


app_context = AppContext()
broker = build_broker()
dramatiq.set_broker(broker)
