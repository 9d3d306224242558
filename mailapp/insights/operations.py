"""Readings of the service's state for `/metrics`, taken when Prometheus scrapes.

Not counters kept per process: each is read from where the state lives, cheaply and bounded.
- Redis: each Dramatiq queue's depth, delayed messages and the age of the message at its
  head; tracking hits waiting to be recorded; senders per provider group under a slow-down
  (a sorted set, `throttles.THROTTLED_KEY`, not a scan of the keys); the age of
  the newest worker and scheduler heartbeats (the scheduler's is its lag: jobs run only
  while it beats).
- The database: deliveries by status of the campaigns sending now (at most MAX_CAMPAIGNS,
  the newest, one grouped count on the (campaign_id, status) index), and their bounce and
  complaint rates from the daily aggregates (per sent message, as the reports count).
  Kept for CAMPAIGN_READING_SECONDS in the process, so frequent scrapes of a campaign of a
  million rows cost one count, not one each.
A source that cannot be read is reported by `mailapp_reading_up{source}` = 0, not an error.
Labels name ids and statuses only, never an address.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import redis
import sqlalchemy as sa
from flask import current_app
from prometheus_client.core import GaugeMetricFamily, Metric

from mailapp.delivery.throttles import throttled_groups
from mailapp.extensions import db
from mailapp.feedback.tracking.event_buffer import pending
from mailapp.models import Campaign, CampaignStatus, DailyStat, Delivery, DeliveryStatus, EventType
from mailapp.runtime.health import HEARTBEATS_KEY
from mailapp.runtime.metrics import QUEUES_KEY

log = logging.getLogger(__name__)

DRAMATIQ_NAMESPACE = "dramatiq"
MAX_CAMPAIGNS = 50
CAMPAIGN_READING_SECONDS = 15.0
RATE_TYPES = (EventType.SENT, EventType.BOUNCE_HARD, EventType.BOUNCE_SOFT, EventType.COMPLAINT)


class OperationsCollector:
    """A prometheus_client collector of the readings above (build one per scrape)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "mailapp_reading_up", "Whether a source of readings answered.", labels=["source"]
        )
        try:
            yield from self._redis_readings()
            up.add_metric(["redis"], 1)
        except redis.RedisError as exc:
            log.warning("metrics: redis readings failed: %s", type(exc).__name__)
            up.add_metric(["redis"], 0)
        try:
            yield from _campaign_families(campaign_readings())
            up.add_metric(["database"], 1)
        except sa.exc.SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("metrics: database readings failed: %s", type(exc).__name__)
            up.add_metric(["database"], 0)
        yield up

    def _redis_readings(self) -> list[Metric]:
        queues = sorted(q.decode() for q in self.client.smembers(QUEUES_KEY))
        ready = _gauge("mailapp_queue_messages", "Messages waiting in a queue.", ["queue"])
        delayed = _gauge(
            "mailapp_queue_delayed_messages", "Messages waiting for their time.", ["queue"]
        )
        age = _gauge(
            "mailapp_queue_oldest_age_seconds",
            "Age of the message at the head of a queue (0 when empty).",
            ["queue"],
        )
        now = time.time()
        for queue, (depth, late, head) in zip(queues, self._queue_heads(queues), strict=True):
            ready.add_metric([queue], depth)
            delayed.add_metric([queue], late)
            age.add_metric([queue], max(0.0, now - head) if head else 0.0)
        backlog = _gauge(
            "mailapp_tracking_backlog", "Tracking hits buffered, not recorded yet.", []
        )
        backlog.add_metric([], pending(self.client))
        throttled = _gauge(
            "mailapp_throttled_groups",
            "Senders under a slow-down per recipient provider (other: any mx:* group).",
            ["group"],
        )
        for group, count in sorted(throttled_groups(self.client).items()):
            throttled.add_metric([group], count)
        heartbeats = _gauge(
            "mailapp_heartbeat_age_seconds",
            "Seconds since the newest heartbeat of a kind of process (scheduler: its lag).",
            ["process"],
        )
        newest: dict[str, float] = {}
        for key, value in self.client.hgetall(HEARTBEATS_KEY).items():
            process = key.decode().partition(":")[0]
            newest[process] = max(newest.get(process, 0.0), float(value))
        for process, at in sorted(newest.items()):
            heartbeats.add_metric([process], round(max(0.0, now - at), 3))
        return [ready, delayed, age, backlog, throttled, heartbeats]

    def _queue_heads(self, queues: list[str]) -> list[tuple[int, int, float | None]]:
        """(depth, delayed, enqueued-at of the head message) per queue, in two round trips."""
        pipe = self.client.pipeline(transaction=False)
        for queue in queues:
            key = f"{DRAMATIQ_NAMESPACE}:{queue}"
            pipe.llen(key)
            pipe.llen(f"{key}.DQ")
            pipe.lindex(key, 0)
        replies = pipe.execute()
        rows = [replies[i : i + 3] for i in range(0, len(replies), 3)]
        pipe = self.client.pipeline(transaction=False)
        for queue, (_, _, head) in zip(queues, rows, strict=True):
            pipe.hget(f"{DRAMATIQ_NAMESPACE}:{queue}.msgs", head or b"")
        bodies = pipe.execute()
        return [
            (int(depth), int(late), _enqueued_at(body))
            for (depth, late, _), body in zip(rows, bodies, strict=True)
        ]


def _enqueued_at(body: bytes | None) -> float | None:
    if not body:
        return None
    try:
        return float(json.loads(body)["message_timestamp"]) / 1000
    except (ValueError, KeyError, TypeError):
        return None


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


_cache_lock = threading.Lock()
_cache: dict[int, tuple[float, list[tuple]]] = {}


def campaign_readings() -> list[tuple]:
    """(project_id, campaign_id, counts by status, {event type: count}) per sending campaign."""
    key = id(current_app._get_current_object())  # one reading per app (tests build many)
    with _cache_lock:
        kept = _cache.get(key)
        if kept and time.monotonic() - kept[0] < CAMPAIGN_READING_SECONDS:
            return kept[1]
        readings = _read_campaigns()
        _cache[key] = (time.monotonic(), readings)
        return readings


def _read_campaigns() -> list[tuple]:
    running = db.session.execute(
        sa.select(Campaign.project_id, Campaign.id)
        .where(Campaign.status == CampaignStatus.SENDING)
        .order_by(Campaign.id.desc())
        .limit(MAX_CAMPAIGNS)
    ).all()
    if not running:
        return []
    ids = [campaign_id for _, campaign_id in running]
    statuses: dict[int, dict[str, int]] = {i: {} for i in ids}
    for campaign_id, status, count in db.session.execute(
        sa.select(Delivery.campaign_id, Delivery.status, sa.func.count())
        .where(Delivery.campaign_id.in_(ids))
        .group_by(Delivery.campaign_id, Delivery.status)
    ):
        statuses[campaign_id][DeliveryStatus(status).value] = count
    events: dict[int, dict[EventType, int]] = {i: {} for i in ids}
    for campaign_id, kind, count in db.session.execute(
        sa.select(DailyStat.campaign_id, DailyStat.type, sa.func.sum(DailyStat.count))
        .where(
            sa.or_(
                *(
                    sa.and_(DailyStat.project_id == p, DailyStat.campaign_id == c)
                    for p, c in running
                )
            ),
            DailyStat.type.in_(RATE_TYPES),
        )
        .group_by(DailyStat.campaign_id, DailyStat.type)
    ):
        events[campaign_id][EventType(kind)] = int(count or 0)
    return [(p, c, statuses[c], events[c]) for p, c in running]


def _campaign_families(readings: list[tuple]) -> Iterator[Metric]:
    labels = ["project_id", "campaign_id"]
    deliveries = _gauge(
        "mailapp_campaign_deliveries",
        "Deliveries by status of each campaign sending now.",
        [*labels, "status"],
    )
    bounces = _gauge(
        "mailapp_campaign_bounce_rate",
        "Hard and soft bounces per sent message of each campaign sending now.",
        labels,
    )
    complaints = _gauge(
        "mailapp_campaign_complaint_rate",
        "Complaints per sent message of each campaign sending now.",
        labels,
    )
    for project_id, campaign_id, counts, events in readings:
        ids = [str(project_id), str(campaign_id)]
        for status in DeliveryStatus:
            deliveries.add_metric([*ids, status.value], counts.get(status.value, 0))
        sent = events.get(EventType.SENT, 0)
        bounced = events.get(EventType.BOUNCE_HARD, 0) + events.get(EventType.BOUNCE_SOFT, 0)
        bounces.add_metric(ids, bounced / sent if sent else 0.0)
        complaints.add_metric(ids, events.get(EventType.COMPLAINT, 0) / sent if sent else 0.0)
    yield from (deliveries, bounces, complaints)
