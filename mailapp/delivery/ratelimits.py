"""Rate limits shared by every worker through Redis.

Fixed-window counters, checked and taken in one Lua call, for: the sender (per second,
hour and day; the day cap is also the warm-up plan's cap), the recipient domain group
(gmail, outlook, yahoo, others: unlimited until a 421/4.7.x asks us to slow down, then
THROTTLE_RATE per second for THROTTLE_SECONDS) and the project's daily quota.
A limit never raises: it grants fewer messages and says when to come back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import redis

from mailapp.models import Project, Sender
from mailapp.runtime import metrics

DOMAIN_GROUPS = {
    "gmail": ("gmail.com", "googlemail.com"),
    "outlook": (
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "hotmail.",
        "live.",
        "outlook.",
    ),
    "yahoo": ("yahoo.com", "ymail.com", "aol.com", "yahoo."),
}

_TAKE = """
local granted = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local room = tonumber(ARGV[2 * i]) - tonumber(redis.call('get', key) or '0')
  if room < granted then granted = room end
end
if granted < 0 then granted = 0 end
if granted > 0 then
  for i, key in ipairs(KEYS) do
    redis.call('incrby', key, granted)
    redis.call('pexpire', key, ARGV[2 * i + 1])
  end
end
return granted
"""


def domain_group(address: str) -> str:
    """gmail, outlook, yahoo or others, from the recipient's domain."""
    domain = address.rpartition("@")[2].lower()
    for group, patterns in DOMAIN_GROUPS.items():
        for pattern in patterns:
            if domain == pattern or (pattern.endswith(".") and domain.startswith(pattern)):
                return group
    return "others"


def warmup_cap(sender: Sender, today: date) -> int | None:
    """Today's cap from the sender's warm-up plan (the last step holds once it ends)."""
    plan = sender.warmup_plan or {}
    caps = plan.get("daily_caps") or []
    if not caps or not plan.get("start"):
        return None
    day = (today - date.fromisoformat(plan["start"])).days
    if day < 0:
        return caps[0]
    return caps[day] if day < len(caps) else None


@dataclass(frozen=True)
class Grant:
    granted: int
    retry_at: datetime | None  # when to ask again for the rest; None when all was granted
    limit: str | None = None  # which limit held the rest back


@dataclass(frozen=True)
class _Window:
    name: str
    key: str
    limit: int
    ends_at: datetime


class RateLimiter:
    """The limits of one (project, sender); cheap to build once per send batch."""

    def __init__(
        self,
        client: redis.Redis,
        project: Project,
        sender: Sender,
        *,
        throttle_rate: int,
        throttle_seconds: int,
    ) -> None:
        self.client = client
        self.project_id = project.id
        self.quota = (project.settings or {}).get("quota_messages_per_day")
        self.sender = sender
        self.throttle_rate = throttle_rate
        self.throttle_seconds = throttle_seconds
        self._take = client.register_script(_TAKE)

    def _windows(self, group: str, now: datetime) -> list[_Window]:
        sid = self.sender.id
        second = now.replace(microsecond=0)
        hour = now.replace(minute=0, second=0, microsecond=0)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day_caps = [c for c in (self.sender.rate_per_day, warmup_cap(self.sender, now.date())) if c]
        windows = []
        if self.sender.rate_per_second:
            windows.append(
                _Window(
                    "sender per second",
                    f"rl:s:{sid}:sec:{int(second.timestamp())}",
                    self.sender.rate_per_second,
                    second + timedelta(seconds=1),
                )
            )
        if self.sender.rate_per_hour:
            windows.append(
                _Window(
                    "sender per hour",
                    f"rl:s:{sid}:hour:{int(hour.timestamp())}",
                    self.sender.rate_per_hour,
                    hour + timedelta(hours=1),
                )
            )
        if day_caps:
            windows.append(
                _Window(
                    "sender per day / warm-up",
                    f"rl:s:{sid}:day:{day:%Y%m%d}",
                    min(day_caps),
                    day + timedelta(days=1),
                )
            )
        throttle = self.client.get(f"rl:throttle:{sid}:{group}")
        if throttle is not None:
            windows.append(
                _Window(
                    f"{group} slow-down",
                    f"rl:s:{sid}:{group}:sec:{int(second.timestamp())}",
                    int(throttle),
                    second + timedelta(seconds=1),
                )
            )
        if self.quota:
            windows.append(
                _Window(
                    "project daily quota",
                    f"rl:quota:{self.project_id}:{day:%Y%m%d}",
                    int(self.quota),
                    day + timedelta(days=1),
                )
            )
        return windows

    def acquire(self, group: str, wanted: int, now: datetime) -> Grant:
        """Take up to `wanted` sends for a recipient group; say when to ask for the rest."""
        windows = self._windows(group, now)
        if not windows or wanted <= 0:
            return Grant(wanted, None)
        args: list[int] = [wanted]
        for window in windows:
            ttl_ms = int((window.ends_at - now).total_seconds() * 1000) + 1000
            args += [window.limit, ttl_ms]
        granted = int(self._take(keys=[w.key for w in windows], args=args))
        if granted >= wanted:
            return Grant(granted, None)
        used = self.client.mget([w.key for w in windows])
        full = [w for w, u in zip(windows, used, strict=True) if int(u or 0) >= w.limit]
        blocking = max(full, key=lambda w: w.ends_at) if full else windows[0]
        metrics.RATE_LIMIT_WAITS.labels(blocking.name).inc()
        return Grant(granted, blocking.ends_at, blocking.name)

    def slow_down(self, group: str) -> None:
        """A 421/4.7.x from this group: halve its per-second rate for a while."""
        key = f"rl:throttle:{self.sender.id}:{group}"
        current = self.client.get(key)
        rate = max(1, int(current) // 2) if current is not None else self.throttle_rate
        self.client.set(key, rate, ex=self.throttle_seconds)
        metrics.THROTTLES.labels(group).inc()
        note_throttled(self.client, self.sender.id, group, self.throttle_seconds)


# (sender id, group) pairs under a slow-down, scored by when it ends: what /metrics reads
# instead of scanning Redis for the slow-down keys.
THROTTLED_KEY = "mailapp:throttled"


def note_throttled(client: redis.Redis, sender_id: int, group: str, seconds: int) -> None:
    """Record that a sender's group is slowed down for `seconds` (old entries go)."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(THROTTLED_KEY, "-inf", now)
    pipe.zadd(THROTTLED_KEY, {f"{sender_id}:{group}": now + seconds})
    pipe.execute()


def throttled_groups(client: redis.Redis) -> dict[str, int]:
    """Senders under a slow-down now, per recipient domain group."""
    groups: dict[str, int] = {}
    for member in client.zrangebyscore(THROTTLED_KEY, time.time(), "+inf"):
        group = member.decode().partition(":")[2]
        groups[group] = groups.get(group, 0) + 1
    return groups


def quota_used_today(client: redis.Redis, project_id: int, now: datetime | None = None) -> int:
    """Messages counted against the project's daily quota so far (UTC day)."""
    now = now or datetime.now(UTC)
    return int(client.get(f"rl:quota:{project_id}:{now:%Y%m%d}") or 0)
