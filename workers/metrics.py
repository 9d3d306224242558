"""Dramatiq's message metrics, kept where the web's `/metrics` adds them up.

Dramatiq ships `dramatiq.middleware.prometheus.Prometheus`, which does not fit here: it
points PROMETHEUS_MULTIPROC_DIR at a directory of its own (by its `dramatiq_prom_db`
variable) when a worker boots, so the service's other counters in that process would land
apart from the web's; and it forks an unauthenticated exposition server on 0.0.0.0:9191
per `dramatiq` command, a second port to guard on every worker host. This middleware keeps
the same metric names, buckets and labels (so the usual Dramatiq dashboards apply) in the
service's one registry (`mailapp.runtime.metrics`), exposed by the token-guarded `/metrics`.

It also records the broker's declared queues in Redis, so the web process, which imports no
actor, knows which queues to read depth and age of (`insights.operations`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware

from mailapp.runtime import metrics

log = logging.getLogger(__name__)


class MessageMetrics(Middleware):
    """dramatiq_messages_total, errors, retries, rejects, in-progress and durations."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        # A Dramatiq group starts: a previous run's files go (the running processes keep theirs).
        metrics.sweep_dead_files()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        client = getattr(broker, "client", None)
        queues = sorted(broker.get_declared_queues())
        if client is None or not queues:
            return
        try:
            client.sadd(metrics.QUEUES_KEY, *queues)
        except redis.RedisError as exc:
            log.warning("declared queues not recorded for /metrics: %s", exc)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        metrics.mark_dead(os.getpid())

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        metrics.DRAMATIQ_REJECTS.labels(message.queue_name, message.actor_name).inc()

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: Any) -> None:
        if "retries" in message.options:
            metrics.DRAMATIQ_RETRIES.labels(message.queue_name, message.actor_name).inc()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        metrics.DRAMATIQ_IN_PROGRESS.labels(message.queue_name, message.actor_name).inc()
        with self._lock:
            self._started[message.message_id] = time.monotonic()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        labels = (message.queue_name, message.actor_name)
        with self._lock:
            started = self._started.pop(message.message_id, None)
        if started is not None:
            metrics.DRAMATIQ_DURATION.labels(*labels).observe((time.monotonic() - started) * 1000)
            metrics.DRAMATIQ_IN_PROGRESS.labels(*labels).dec()
        metrics.DRAMATIQ_MESSAGES.labels(*labels).inc()
        if exception is not None:
            metrics.DRAMATIQ_ERRORS.labels(*labels).inc()

    after_skip_message = after_process_message
