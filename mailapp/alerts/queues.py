"""Dramatiq queue depths sampled from Redis, and how long a queue has kept growing.

The Redis broker keeps each queue's waiting message ids in the list `dramatiq:<queue>` (a
`<queue>.msgs` hash holds their bodies); delayed (`.DQ`) and dead (`.XQ`) messages are not
waiting work and are left out. Each check appends one sample per queue, kept for a day.
"""

from __future__ import annotations

import json
from datetime import datetime

import redis

NAMESPACE = "dramatiq"
SAMPLES_KEY = "mailapp:alerts:queue-depth:{queue}"
# One sample a minute for a day.
MAX_SAMPLES = 1440


def waiting_queues(client: redis.Redis) -> list[str]:
    """Names of the broker's queues (delayed and dead-letter ones left out)."""
    names = set()
    for key in client.scan_iter(match=f"{NAMESPACE}:*.msgs", count=500):
        name = key.decode()[len(NAMESPACE) + 1 : -len(".msgs")]
        if not name.endswith((".DQ", ".XQ")):
            names.add(name)
    return sorted(names)


def record_queue_depths(client: redis.Redis, now: datetime) -> dict[str, int]:
    """Sample every queue's waiting messages now; {queue: depth}."""
    depths = {q: int(client.llen(f"{NAMESPACE}:{q}")) for q in waiting_queues(client)}
    for queue, depth in depths.items():
        key = SAMPLES_KEY.format(queue=queue)
        client.lpush(key, json.dumps([now.timestamp(), depth]))
        client.ltrim(key, 0, MAX_SAMPLES - 1)
    return depths


def growing_minutes(client: redis.Redis, queue: str, now: datetime) -> int:
    """For how many minutes the queue has grown without ever shrinking (0: not growing).

    Read back from the newest sample while each older one is no bigger and not empty; the
    queue must have grown over that stretch, so a steady backlog is not "growing".
    """
    samples = [json.loads(s) for s in client.lrange(SAMPLES_KEY.format(queue=queue), 0, -1)]
    if len(samples) < 2:
        return 0
    newest_depth, oldest = samples[0][1], samples[0]
    for sample in samples[1:]:
        if sample[1] <= 0 or sample[1] > oldest[1]:
            break
        oldest = sample
    if newest_depth <= oldest[1]:
        return 0
    return int((now.timestamp() - oldest[0]) // 60)
