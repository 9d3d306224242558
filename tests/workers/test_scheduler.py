"""Two scheduler processes against one Redis: exactly one is active; the other takes over."""

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from mailapp import ROOT
from mailapp.runtime.health import HEARTBEATS_KEY
from tests.conftest import app_config
from workers.scheduler import LOCK_KEY, LeaderLock

pytestmark = pytest.mark.e2e


def start_scheduler(env):
    return subprocess.Popen(
        [sys.executable, "-m", "workers.scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def scheduler_beats(client):
    return {
        k.decode().split(":", 1)[1]: float(v)
        for k, v in client.hgetall(HEARTBEATS_KEY).items()
        if k.startswith(b"scheduler:")
    }


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def scheduler_env(tmp_path, redis_url):
    env = {**os.environ, **app_config(f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url, tmp_path)}
    env.update(DRAMATIQ_BROKER="redis", SCHEDULER_LOCK_TTL="1.5", SCHEDULER_HEARTBEAT_SECONDS="0.2")
    return env


# Alone: a leader starved of CPU for the 1.5 s lease by a busy neighbour would lose it.
@pytest.mark.serial
def test_only_one_of_two_schedulers_runs_jobs_and_the_other_takes_over(scheduler_env, redis_url):
    client = redis.Redis.from_url(redis_url)
    first, second = start_scheduler(scheduler_env), start_scheduler(scheduler_env)
    try:
        leader = wait_for(lambda: client.get(LOCK_KEY)).decode()
        time.sleep(2.0)  # several heartbeat periods and lock renewals
        beats = scheduler_beats(client)
        assert list(beats) == [leader]
        leader_pid = int(leader.rsplit(":", 1)[1])
        standby = second if leader_pid == first.pid else first
        assert leader_pid in (first.pid, second.pid)

        os.kill(leader_pid, signal.SIGKILL)  # no goodbye: the lease must expire
        new_leader = wait_for(
            lambda: (v := client.get(LOCK_KEY)) and v.decode() != leader and v.decode()
        )
        assert int(new_leader.rsplit(":", 1)[1]) == standby.pid
        started = time.time()
        wait_for(lambda: scheduler_beats(client).get(new_leader, 0) > started)
        assert scheduler_beats(client)[leader] < started
    finally:
        for process in (first, second):
            process.kill()
            process.wait()


def test_sigterm_releases_the_lock_at_once(scheduler_env, redis_url):
    client = redis.Redis.from_url(redis_url)
    process = start_scheduler(scheduler_env)
    try:
        wait_for(lambda: client.get(LOCK_KEY))
        process.terminate()
        assert process.wait(10) == 0
        assert client.get(LOCK_KEY) is None
    finally:
        process.kill()


def test_lock_renewal_belongs_to_its_holder(redis_url):
    client = redis.Redis.from_url(redis_url)
    a, b = LeaderLock(client, "a", ttl=5), LeaderLock(client, "b", ttl=5)
    assert a.acquire()
    assert not b.acquire()
    assert not b.renew()
    b.release()  # must not release a lock it does not hold
    assert client.get(LOCK_KEY) == b"a"
    assert a.renew()
    a.release()
    assert b.acquire()


def test_every_job_names_an_actor_and_a_valid_trigger():
    import dramatiq
    from apscheduler.schedulers.background import BackgroundScheduler

    from workers.scheduler import JOBS, enqueue

    assert len({job.id for job in JOBS}) == len(JOBS)
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in JOBS:
        module_name, name = job.actor.split(":")
        actor = getattr(__import__(module_name, fromlist=[name]), name)
        assert isinstance(actor, dramatiq.Actor), job.actor
        scheduler.add_job(enqueue(job.actor), job.trigger, id=job.id, **job.trigger_args)
    assert {j.id for j in scheduler.get_jobs()} == {job.id for job in JOBS}
