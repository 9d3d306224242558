"""A Redis list buffering tracking hits between the web tier and the database.

Each web process's spool thread (`hit_spool`) LPUSHes what its requests appended, many
hits in one command. A drain moves a batch atomically (one Lua call) from the buffer to a
processing list, records it, and only then deletes the processing list. A drain that
crashes leaves its batch in the processing list, and the next drain records it first.
(The one window left is a crash between the database commit and the delete, which
replays that batch; every hit carries its spool key and `Event.hit_key` is unique, so a
replayed hit is not recorded twice.) A lease makes drains take turns, so
several workers and schedulers can trigger them safely.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

BUFFER_KEY = "mailapp:events:buffer"
PROCESSING_KEY = "mailapp:events:processing"
LEASE_KEY = "mailapp:events:drain-lease"
# Longer than the drain actor's time limit: a live drain never loses its lease.
LEASE_SECONDS = 180
MAX_DRAIN_SECONDS = 60

# Oldest items sit at the tail (LPUSH): take up to ARGV[1] of them, oldest first.
_MOVE_BATCH = """
local items = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], 0, -(#items) - 1)
for i = #items, 1, -1 do redis.call('RPUSH', KEYS[2], items[i]) end
return redis.call('LRANGE', KEYS[2], 0, -1)
"""
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


def push(client: redis.Redis, items: list[bytes]) -> None:
    """Buffer items in order (oldest first) in one command."""
    client.lpush(BUFFER_KEY, *items)


def pending(client: redis.Redis) -> int:
    """Hits waiting to be recorded (buffered or in a drain's hands)."""
    pipe = client.pipeline(transaction=False)
    pipe.llen(BUFFER_KEY)
    pipe.llen(PROCESSING_KEY)
    return sum(pipe.execute())


def drain(
    client: redis.Redis,
    record: Callable[[list[bytes]], int],
    *,
    batch_size: int = 2000,
    max_seconds: float = MAX_DRAIN_SECONDS,
) -> int:
    """Record buffered items in batches until the buffer is empty or time is up.

    `record` must commit before returning; returns the sum of what it returned. A drain
    that finds another one running returns 0 at once.
    """
    owner = f"{os.getpid()}:{time.monotonic_ns()}"
    if not client.set(LEASE_KEY, owner, nx=True, ex=LEASE_SECONDS):
        return 0
    recorded = 0
    deadline = time.monotonic() + max_seconds
    try:
        # Left over by a drain that died: record it before taking anything new.
        leftover = client.lrange(PROCESSING_KEY, 0, -1)
        if leftover:
            log.warning("recovering %d hits from an interrupted drain", len(leftover))
            recorded += record(leftover)
            client.delete(PROCESSING_KEY)
        while time.monotonic() < deadline:
            batch = client.eval(_MOVE_BATCH, 2, BUFFER_KEY, PROCESSING_KEY, batch_size)
            if not batch:
                break
            recorded += record(batch)
            client.delete(PROCESSING_KEY)
    finally:
        client.eval(_RELEASE, 1, LEASE_KEY, owner)
    return recorded
