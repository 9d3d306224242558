"""Rate limits shared by every worker through Redis.

Fixed-window counters, checked and taken in one Lua call, for: the sender (per second,
hour and day; the day cap is also the warm-up plan's cap), the recipient's provider group
(`mx_providers`: unlimited until a 421/4.7.x asks us to slow down, then the per-second
rate `throttles` sets, halved on each new one and stepped back up) and the project's
daily quota. A limit never raises: it grants fewer messages and says when to come back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import redis
from flask import current_app

from mailapp.delivery import throttles
from mailapp.delivery.mx_providers import metric_label, name_group
from mailapp.delivery.throttles import ThrottlePolicy
from mailapp.models import Project, Sender
from mailapp.runtime import metrics

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
    """The recipient's group from its domain name alone (no DNS): `MxGrouper` asks DNS."""
    return name_group(address.rpartition("@")[2])


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
    slow_down: bool = False


class RateLimiter:
    """The limits of one (project, sender); cheap to build once per send batch."""

    def __init__(
        self,
        client: redis.Redis,
        project: Project,
        sender: Sender,
        policy: ThrottlePolicy,
    ) -> None:
        self.client = client
        self.project_id = project.id
        self.quota = (project.settings or {}).get("quota_messages_per_day")
        self.sender = sender
        self.policy = policy
        self._take = client.register_script(_TAKE)
        self._states: dict[str, dict] = {}
        # Sends taken for the unthrottled groups of this send group, valid in that second.
        self._reserve, self._reserved_at = 0, 0

    @classmethod
    def from_config(cls, client: redis.Redis, project: Project, sender: Sender) -> RateLimiter:
        """The limits of a sender with the configured slow-down policy (THROTTLE_*)."""
        return cls(client, project, sender, ThrottlePolicy.from_config(current_app.config))

    def _windows(self, group: str, now: datetime) -> list[_Window]:
        """The sender's and project's windows, and the group's slow-down when it has one."""
        windows = self._shared_windows(now)
        sid = self.sender.id
        second = now.replace(microsecond=0)
        if group in self._states:
            throttle = throttles.rate_at(self._states[group], now)
        else:
            throttle = throttles.current_rate(self.client, sid, group, now)
        if throttle is not None:
            windows.append(
                _Window(
                    f"{metric_label(group)} slow-down",
                    f"rl:s:{sid}:{group}:sec:{int(second.timestamp())}",
                    throttle,
                    second + timedelta(seconds=1),
                    slow_down=True,
                )
            )
        return windows

    def _shared_windows(self, now: datetime) -> list[_Window]:
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
        shared = 0
        current = self._reserve and self._reserved_at == int(now.timestamp())
        if current and not any(w.slow_down for w in windows):
            shared = min(wanted, self._reserve)
            self._reserve -= shared
        if shared == wanted:
            return Grant(wanted, None)
        grant = self._take_from(windows, wanted - shared, now)
        return Grant(grant.granted + shared, grant.retry_at, grant.limit)

    def _take_from(self, windows: list[_Window], wanted: int, now: datetime) -> Grant:
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

    def prepare_groups(self, wanted: Mapping[str, int], now: datetime) -> None:
        """Before one send group's acquires: read its groups' slow-downs in one round trip,
        and take the sender's limits for the rows of every group not slowed down in one more
        (as when they all were "others"), instead of two round trips per provider group.
        Another worker's new slow-down is seen from the next send group."""
        self._states = throttles.read_states(self.client, self.sender.id, wanted)
        self._reserve = 0
        free = sum(n for g, n in wanted.items() if throttles.rate_at(self._states[g], now) is None)
        windows = self._shared_windows(now)
        if free and windows:
            self._reserve = self._take_from(windows, free, now).granted
            self._reserved_at = int(now.timestamp())

    def slow_down(self, group: str, reason: str = "421", now: datetime | None = None) -> int:
        """A 421/4.7.x from this group: halve its per-second rate, then step it back up."""
        self._states.pop(group, None)  # read again at the next acquire
        return throttles.slow_down(
            self.client, self.sender, group, self.policy, reason=reason, now=now
        )


def quota_used_today(client: redis.Redis, project_id: int, now: datetime | None = None) -> int:
    """Messages counted against the project's daily quota so far (UTC day)."""
    now = now or datetime.now(UTC)
    return int(client.get(f"rl:quota:{project_id}:{now:%Y%m%d}") or 0)
