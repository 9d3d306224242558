"""Slow-downs a receiving provider asked for (421 / 4.7.x), shared by every worker (Redis).

AIMD, as TCP does: a 421 halves the (sender, group) rate, the first one starting at
THROTTLE_RATE per second; then THROTTLE_STEP is added every THROTTLE_STEP_SECONDS until
the rate reaches the ceiling (THROTTLE_CEILING, or the sender's own per-second limit when
lower) and the limit is lifted. The first rate is THROTTLE_RATE rather than a measured one:
an unthrottled group has no counter (its fast path costs nothing), and what one burst of
pooled connections reached says little about what the receiver tolerates.

State: one hash per (sender, group) holding the rate set at the last decrease and when;
the current rate is computed from it and the time, so no job has to step it up, and it
expires when lifted. Replies to messages already on their way after a 421 say nothing new:
decreases closer together than DECREASE_HOLD_SECONDS count once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from mailapp.delivery.mx_providers import metric_label
from mailapp.models import Sender
from mailapp.runtime import metrics

DECREASE_HOLD_SECONDS = 2.0
# (sender id, group) pairs under a slow-down, scored by when it lifts: what /metrics and the
# Sending page read instead of scanning Redis for the slow-down keys.
THROTTLED_KEY = "mailapp:throttled"

_DECREASE = """
local key = KEYS[1]
local now, start, step, step_s, ceiling, hold =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6])
local h = redis.call('hmget', key, 'base', 'since', 'step', 'step_seconds', 'lift')
local rate = start
if h[1] and now < tonumber(h[5]) then
  local since = tonumber(h[2])
  if now - since < hold then return {tonumber(h[1]), h[5], 0} end
  local current = tonumber(h[1]) + math.floor((now - since) / tonumber(h[4])) * tonumber(h[3])
  rate = math.max(1, math.floor(current / 2))
end
local lift = now + math.max(1, math.ceil((ceiling - rate) / step)) * step_s
local lift_text = string.format('%.6f', lift)
redis.call('hset', key, 'base', rate, 'since', ARGV[1], 'step', step,
  'step_seconds', step_s, 'ceiling', ceiling, 'lift', lift_text, 'reason', ARGV[7])
redis.call('pexpire', key, math.ceil((lift - now) * 1000) + 1000)
return {rate, lift_text, 1}
"""


@dataclass(frozen=True)
class ThrottlePolicy:
    rate: int = 2  # messages per second after the first slow-down
    step: int = 1  # added every step_seconds
    step_seconds: int = 30
    ceiling: int = 16  # lifted when the rate gets here

    @classmethod
    def from_config(cls, config: Any) -> ThrottlePolicy:
        """The THROTTLE_* settings."""
        return cls(
            config["THROTTLE_RATE"],
            config["THROTTLE_STEP"],
            config["THROTTLE_STEP_SECONDS"],
            config["THROTTLE_CEILING"],
        )

    def ceiling_for(self, sender: Sender) -> int:
        """Above the sender's own per-second limit a group limit holds nothing back."""
        if sender.rate_per_second:
            return min(self.ceiling, sender.rate_per_second)
        return self.ceiling


@dataclass(frozen=True)
class Slowdown:
    sender_id: int
    group: str
    rate: int  # messages per second now
    since: datetime  # the last decrease
    reason: str  # the reply that asked for it, e.g. "421 4.7.0"
    next_step_at: datetime | None  # the next increase, None when that one lifts it
    next_rate: int
    lifted_at: datetime


def throttle_key(sender_id: int, group: str) -> str:
    return f"rl:throttle:{sender_id}:{group}"


def _read(raw: dict[bytes, bytes], sender_id: int, group: str, now: float) -> Slowdown | None:
    if not raw or b"base" not in raw:
        return None
    since, lift = float(raw[b"since"]), float(raw[b"lift"])
    if now >= lift:
        return None
    step, step_s = int(raw[b"step"]), int(raw[b"step_seconds"])
    steps = math.floor((now - since) / step_s)
    rate = int(raw[b"base"]) + steps * step
    next_at = since + (steps + 1) * step_s
    return Slowdown(
        sender_id,
        group,
        rate,
        _at(since),
        raw.get(b"reason", b"").decode(),
        _at(next_at) if next_at < lift else None,
        rate + step,
        _at(lift),
    )


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def current_rate(client: redis.Redis, sender_id: int, group: str, now: datetime) -> int | None:
    """The group's per-second limit for this sender now; None when not slowed down."""
    return rate_at(client.hgetall(throttle_key(sender_id, group)), now)


def read_states(client: redis.Redis, sender_id: int, groups: Iterable[str]) -> dict[str, dict]:
    """The slow-down state of each group, in one round trip (give each to `rate_at`)."""
    groups = list(groups)
    pipe = client.pipeline(transaction=False)
    for group in groups:
        pipe.hgetall(throttle_key(sender_id, group))
    return dict(zip(groups, pipe.execute(), strict=True))


def rate_at(state: dict[bytes, bytes], now: datetime) -> int | None:
    """The per-second limit a state read from Redis sets at `now`; None when there is none."""
    slowdown = _read(state, 0, "", now.timestamp())
    return slowdown.rate if slowdown else None


def slow_down(
    client: redis.Redis,
    sender: Sender,
    group: str,
    policy: ThrottlePolicy,
    *,
    reason: str = "421",
    now: datetime | None = None,
) -> int:
    """A 421/4.7.x from this group: halve its rate (one atomic step); the rate now."""
    now = now or datetime.now(UTC)
    rate, lift, changed = client.eval(
        _DECREASE,
        1,
        throttle_key(sender.id, group),
        repr(now.timestamp()),
        policy.rate,
        policy.step,
        policy.step_seconds,
        policy.ceiling_for(sender),
        DECREASE_HOLD_SECONDS,
        reason[:40],
    )
    if changed:
        metrics.THROTTLES.labels(metric_label(group)).inc()
        # Scored in real time, so /metrics stays right when a test passes its own `now`.
        note_throttled(client, sender.id, group, float(lift) - now.timestamp())
    return int(rate)


def note_throttled(client: redis.Redis, sender_id: int, group: str, seconds: float) -> None:
    """Record that a sender's group is slowed down for `seconds` (old entries go)."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(THROTTLED_KEY, "-inf", now)
    pipe.zadd(THROTTLED_KEY, {f"{sender_id}:{group}": now + seconds})
    pipe.execute()


def throttled_groups(client: redis.Redis) -> dict[str, int]:
    """Senders under a slow-down now, per provider ("other" for every mx:* group)."""
    groups: dict[str, int] = {}
    for member in client.zrangebyscore(THROTTLED_KEY, time.time(), "+inf"):
        label = metric_label(member.decode().partition(":")[2])
        groups[label] = groups.get(label, 0) + 1
    return groups


def slowdowns(client: redis.Redis, sender_ids: set[int], now: datetime) -> list[Slowdown]:
    """The slow-downs of these senders now, newest first (for the Sending page)."""
    pairs = []
    for member in client.zrangebyscore(THROTTLED_KEY, time.time(), "+inf"):
        sid, _, group = member.decode().partition(":")
        if int(sid) in sender_ids:
            pairs.append((int(sid), group))
    pipe = client.pipeline(transaction=False)
    for sid, group in pairs:
        pipe.hgetall(throttle_key(sid, group))
    found = [
        _read(raw, sid, group, now.timestamp())
        for (sid, group), raw in zip(pairs, pipe.execute(), strict=True)
    ]
    return sorted((s for s in found if s), key=lambda s: s.since, reverse=True)
