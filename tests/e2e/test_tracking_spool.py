"""Every answered open and click becomes exactly one event, even when the web worker is
SIGKILLed with hits it never shipped: real gunicorn (./gunicorn.conf.py, production mode),
a Redis server of the test's own that it freezes, PostgreSQL, and the drain."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mailapp import ROOT, create_app
from mailapp.extensions import db
from mailapp.feedback.tracking import event_buffer
from mailapp.feedback.tracking.hits import drain_hits
from mailapp.models import Event
from mailapp.urls import LinkSigner
from tests.conftest import app_config
from tests.factories import links_of, make_contact, make_delivery, make_project, make_sent_campaign
from tests.support.servers import RedisServer, free_port, wait_for_port

pytestmark = pytest.mark.e2e

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PER_PHASE = 60


@pytest.fixture
def database_url(postgres_server_url: str, postgres_template: str):
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _get(port: int, path: str) -> int | None:
    """The status of a complete answer, or None when the server died before answering."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"User-Agent": BROWSER})
        response = conn.getresponse()
        response.read()
        return response.status
    except (ConnectionError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _wait(predicate, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def _spool_files(folder: Path) -> dict[Path, int]:
    """Each spool file with the number of lines in it."""
    return {path: path.read_bytes().count(b"\n") for path in folder.rglob("*.hits")}


def test_a_sigkilled_worker_loses_no_answered_hit_and_counts_none_twice(
    database_url: str, tmp_path: Path
) -> None:
    redis_server = RedisServer().start()
    instance = tmp_path / "instance"
    config = app_config(database_url, redis_server.url, instance, MAILAPP_ENV="production")
    app = create_app({**config, "MAILAPP_ENV": "testing"})  # the test's own side: seed, drain
    with app.app_context():
        project = make_project()
        campaign = make_sent_campaign(project, ["https://shop.example.com/a"])
        link = links_of(campaign)[0]
        deliveries = [make_delivery(campaign, make_contact(project)) for _ in range(3 * PER_PHASE)]
        signer = LinkSigner.from_app()
        ids = [d.id for d in deliveries]
        opens = {i: signer.open_url(i).removeprefix(signer.base_url) for i in ids}
        clicks = {i: signer.click_url(i, link.id).removeprefix(signer.base_url) for i in ids}
        db.session.remove()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DRAMATIQ_BROKER"}
    env.update({k: str(v) for k, v in config.items()}, PYTHONPATH=str(ROOT))
    log = (tmp_path / "gunicorn.log").open("ab")
    command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}"]
    # No control socket: gunicorn's default is one path per user ($HOME/.gunicorn/gunicorn.ctl),
    # which another gunicorn of a parallel test would take over.
    command += ["--workers", "1", "--access-logfile", "-", "--no-control-socket"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    answered: Counter = Counter()
    try:
        wait_for_port(port)
        master = psutil.Process(server.pid)
        first_phase, second_phase, third_phase = (
            ids[:PER_PHASE],
            ids[PER_PHASE : 2 * PER_PHASE],
            ids[2 * PER_PHASE :],
        )
        for i in first_phase:
            assert _get(port, opens[i]) == 200
            answered[("open", i)] += 1
        buffer = redis.Redis.from_url(redis_server.url)
        # The worker's thread ships its spool to Redis on its own.
        _wait(lambda: buffer.llen(event_buffer.BUFFER_KEY) == PER_PHASE)

        # Redis frozen: requests still answer at once (the hot path never waits for it) and
        # the shipping thread hangs; then the worker is SIGKILLed with those hits unshipped.
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            for i in second_phase:
                assert _get(port, clicks[i]) == 302
                answered[("click", i)] += 1
            (worker,) = master.children()
            (orphan,) = _spool_files(instance)  # the worker's own file
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            # What it shipped (first phase) and what waits for Redis (second).
            assert _spool_files(instance)[orphan] == 2 * PER_PHASE
        finally:
            redis_server.process.send_signal(signal.SIGCONT)

        # gunicorn starts a new worker, which adopts the dead worker's spool at once.
        _wait(lambda: orphan not in _spool_files(instance))
        for i in third_phase:
            assert _get(port, opens[i]) == 200
            answered[("open", i)] += 1

        with app.app_context():

            def recorded() -> Counter:
                drain_hits()
                rows = db.session.execute(sa.select(Event.type, Event.delivery_id)).all()
                db.session.remove()
                return Counter((str(t), d) for t, d in rows)

            _wait(lambda: recorded() == answered)
            # Redis ran the LPUSH it received before freezing, and the adopter shipped the
            # same lines again: each is still one event.
            time.sleep(0.5)
            assert recorded() == answered
            db.engine.dispose()
    finally:
        server.terminate()
        server.wait(20)
        log.close()
        redis_server.cleanup()
