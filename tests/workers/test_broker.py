import time

import redis
from dramatiq import Worker

from mailapp.runtime.health import HEARTBEATS_KEY
from workers.actors.maintenance import prune_stale_heartbeats
from workers.broker import broker


def test_actor_runs_in_an_app_context(app, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.hset(
        HEARTBEATS_KEY, mapping={"worker:old": time.time() - 200_000, "worker:new": time.time()}
    )
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    try:
        prune_stale_heartbeats.send()
        broker.join(prune_stale_heartbeats.queue_name)
        worker.join()
    finally:
        worker.stop()
    keys = set(client.hkeys(HEARTBEATS_KEY))
    assert b"worker:old" not in keys
    assert b"worker:new" in keys
