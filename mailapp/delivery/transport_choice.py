"""Which of a sender's transports takes a message, and failing over to the next one.

Per message the weighted transports are ordered by weighted rendezvous hashing on the
message's key (a delivery id), so a retried message tends to use the same relay and shares
follow the weights; backups (weight 0) come after them, by position. A transport whose
breaker is open is skipped. A result that is the relay's problem (`SendResult.relay_fault`:
unreachable, closing, its own 4xx) moves the message to the next transport at once, with
no deferral recorded against the recipient. Never after "unknown" (the relay may have the
message: a second send could deliver it twice), a 5xx, or a 4xx about the recipient or a
4.7.x throttle (that goes to the rate limiter).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

import redis
from flask import current_app

from mailapp.delivery.compose import Composed
from mailapp.delivery.handover import hand_over
from mailapp.delivery.transport_health import TransportHealth
from mailapp.extensions import get_redis
from mailapp.mail.transports import SendResult, TransportPool, transport_url_for
from mailapp.models import Sender

log = logging.getLogger(__name__)
ALL_PAUSED = "every transport of this sender is paused after repeated errors"
ALL_OFF = "every transport of this sender is switched off"


@dataclass(frozen=True)
class Route:
    id: int | None  # None: the sender's old single URL or SMTP_URL, with no health kept
    name: str
    url: str
    weight: int
    position: int = 0


def routes_for(sender: Sender | None) -> list[Route]:
    """The sender's switched-on transports; without any transport, the one URL mail went to
    before (its old transport_url, else SMTP_URL). All switched off: none (mail waits)."""
    transports = sender.transports if sender else []
    if not transports:
        return [Route(None, "default", transport_url_for(sender), 1)]
    return [Route(t.id, t.name, t.url, t.weight, t.position) for t in transports if t.enabled]


def ordered(routes: list[Route], key: str) -> list[Route]:
    """Weighted routes by rendezvous score (highest first), then the backups by position."""
    weighted = [r for r in routes if r.weight > 0]
    backups = sorted((r for r in routes if r.weight == 0), key=lambda r: (r.position, r.id or 0))
    return sorted(weighted, key=lambda r: _score(r, key), reverse=True) + backups


def _score(route: Route, key: str) -> float:
    """-w / ln(u), u uniform in (0, 1) from the key and route: the highest wins with
    probability weight / total weight, and removing one route moves only its share."""
    digest = hashlib.blake2b(f"{key}:{route.id}".encode(), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") + 1) / (2**64 + 1)
    return -route.weight / math.log(u)


def shared_health() -> TransportHealth:
    """The health store of the app's Redis with the configured breaker."""
    config = current_app.config
    return TransportHealth(
        get_redis(),
        errors_to_open=config["TRANSPORT_BREAKER_ERRORS"],
        pause_seconds=config["TRANSPORT_PAUSE_SECONDS"],
    )


class Failover:
    """Sends one message through a sender's transports in order until one takes it."""

    def __init__(self, sender: Sender | None, pool: TransportPool) -> None:
        self.routes = routes_for(sender)
        self.pool = pool
        self.health = shared_health()

    def send(self, composed: Composed, key: str, kind: str) -> SendResult:
        """The first answer that is not the relay's problem, else the last relay error."""
        last: SendResult | None = None
        for route in ordered(self.routes, key):
            if route.id is not None and not self._available(route.id):
                continue
            with self.pool.connection(route.url) as transport:
                result = hand_over(transport, composed, kind)
            self._record(route, result)
            if not result.relay_fault:
                return result
            last = result
            log.warning("transport %s could not take message %s: %s", route.name, key, result.reply)
        if last is None:
            return SendResult("deferred", None, ALL_PAUSED if self.routes else ALL_OFF, True)
        return last

    def _available(self, transport_id: int) -> bool:
        # Health is advice: with Redis unreachable every transport is tried (the rate
        # limiter, which must not be bypassed, stops the send on its own).
        try:
            return self.health.available(transport_id)
        except redis.RedisError:
            return True

    def _record(self, route: Route, result: SendResult) -> None:
        if route.id is None:
            return
        try:
            if result.relay_fault:
                self.health.record_relay_error(route.id, result.reply)
            else:
                self.health.record_answer(route.id, sent=result.outcome == "sent")
        except redis.RedisError as exc:
            log.warning("transport health not recorded: %s", exc)
