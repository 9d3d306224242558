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


def test_a_dead_workers_messages_are_requeued_by_a_live_ones_heartbeat(redis_url):
    import dramatiq

    from workers.broker import LOST_AFTER_SECONDS, RecoveringRedisBroker

    dead, live = RecoveringRedisBroker(url=redis_url), RecoveringRedisBroker(url=redis_url)
    try:
        for one in (dead, live):
            one.declare_queue("send")
        dead.enqueue(dramatiq.Message("send", "send_batch", (1, [1, 2]), {}, {}))
        consumer = dead.consume("send", prefetch=1, timeout=100)
        assert next(consumer) is not None  # held unacknowledged, then the process dies
        client = redis.Redis.from_url(redis_url)
        assert client.llen("dramatiq:send") == 0
        # The dead process has not beaten for longer than the broker waits.
        stale = (time.time() - LOST_AFTER_SECONDS - 1) * 1000
        client.zadd("dramatiq:__heartbeats__", {dead.broker_id: stale})
        live.beat_and_recover()
        assert client.llen("dramatiq:send") == 1  # waiting for a live worker again
        # A live process's messages stay where they are.
        fresh = live.consume("send", prefetch=1, timeout=100)
        assert next(fresh) is not None
        live.beat_and_recover()
        assert client.llen("dramatiq:send") == 0
    finally:
        dead.close()
        live.close()
