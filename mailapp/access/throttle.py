"""Exponential backoff for sign-in attempts, shared by every web process (Redis).

Counters watch each attempt, none of them a lock:
- the account *from one address* (PAIR): a few tries free, then the wait doubles up to 15 min.
  Only that address waits, so an attacker elsewhere cannot keep the owner out;
- one *address* over all accounts (ADDRESS): stops spraying many accounts from one place;
- the *account* over all addresses (ACCOUNT): a ceiling for attacks spread over many
  addresses, kept short (at most a minute between tries) so it is a delay, never a lockout.
A browser that signed in to the account before (a known device, by its signed cookie) goes
through none of these but a PAIR counter of its own: whatever an attacker does from elsewhere,
even from behind the same address, the owner's own browser is never made to wait.
Attempts made while a wait runs are refused without checking the password, and counted.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from mailapp.extensions import get_redis

FORGET_SECONDS = 24 * 3600  # failures are forgotten a day after the last one


@dataclass(frozen=True)
class Rule:
    scope: str
    free: int  # failures before any wait
    base: float  # seconds of the first wait; each further failure doubles it
    cap: int  # the longest wait, in seconds


PAIR = Rule("pair", free=3, base=2, cap=15 * 60)
ADDRESS = Rule("address", free=20, base=2, cap=60 * 60)
ACCOUNT = Rule("account", free=10, base=1, cap=60)

# One round trip, atomic across processes: count the failure and set when trying may resume.
_FAIL = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free, base, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
if failures > free then wait = math.min(cap, base * 2 ^ (failures - free - 1)) end
redis.call('HSET', KEYS[1], 'until', tonumber(ARGV[4]) + wait * 1000)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return {failures, math.ceil(wait)}
"""


@dataclass(frozen=True)
class Counter:
    rule: Rule
    key: str


def counters(purpose: str, account: str, ip: str | None, *, device: str | None) -> list[Counter]:
    """The counters one attempt at `purpose` (password, code) on an account goes through;
    `device` is the id of a browser known to have signed in to the account, else None."""
    account = account.strip().lower()
    if device:
        return [Counter(PAIR, _key(purpose, PAIR, f"{account}|device:{device}"))]
    found = [Counter(PAIR, _key(purpose, PAIR, f"{account}|{ip or '-'}"))]
    if ip:
        found.append(Counter(ADDRESS, _key(purpose, ADDRESS, ip)))
    found.append(Counter(ACCOUNT, _key(purpose, ACCOUNT, account)))
    return found


def account_keys(purpose: str, account: str) -> list[str]:
    """The account-wide counter's key (what an administrator clears)."""
    return [_key(purpose, ACCOUNT, account.strip().lower())]


def _key(purpose: str, rule: Rule, value: str) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"signin:{purpose}:{rule.scope}:{digest}"


def _now_ms(now: float | None) -> int:
    return int((time.time() if now is None else now) * 1000)


def wait_seconds(found: Iterable[Counter], *, now: float | None = None) -> int:
    """How long until this attempt may be tried (0: now); a refused attempt is counted."""
    found = list(found)
    redis = get_redis()
    with redis.pipeline(transaction=False) as pipe:
        for counter in found:
            pipe.hget(counter.key, "until")
        untils = pipe.execute()
    current = _now_ms(now)
    waiting = [c for c, until in zip(found, untils, strict=True) if until and int(until) > current]
    if not waiting:
        return 0
    with redis.pipeline(transaction=False) as pipe:
        for counter in waiting:
            pipe.hincrby(counter.key, "refused", 1)
        pipe.execute()
    longest = max(int(until) for until in untils if until) - current
    return max(1, math.ceil(longest / 1000))


def record_failure(found: Iterable[Counter], *, now: float | None = None) -> dict[str, int]:
    """Count a failed attempt; return {scope: seconds to wait} for counters now waiting."""
    script = get_redis().register_script(_FAIL)
    waits: dict[str, int] = {}
    current = _now_ms(now)
    for counter in found:
        rule = counter.rule
        _, wait = script(
            keys=[counter.key], args=[rule.free, rule.base, rule.cap, current, FORGET_SECONDS]
        )
        if wait:
            waits[rule.scope] = int(wait)
    return waits


def attempts(found: Iterable[Counter]) -> dict[str, dict[str, int]]:
    """Failures and refused attempts per scope (for the audit entry)."""
    redis = get_redis()
    result = {}
    for counter in found:
        values = redis.hgetall(counter.key)
        result[counter.rule.scope] = {
            "failures": int(values.get(b"failures", 0)),
            "refused": int(values.get(b"refused", 0)),
        }
    return result


def clear(keys: Iterable[str]) -> None:
    """Forget the counters (after a success, or when an administrator lifts a delay)."""
    keys = list(keys)
    if keys:
        get_redis().delete(*keys)
