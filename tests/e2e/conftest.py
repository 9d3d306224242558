"""Real processes for end-to-end tests: a Dramatiq worker and the scheduler, started as
`dramatiq workers.actors` and `python -m workers.scheduler` against PostgreSQL and a Redis
server of their own (so a test may stop and restart it), with fast pipeline settings."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy.engine import make_url

# In-process launches enqueue through mailapp.tasks; the stack's scheduler runs the ticks.
import workers.actors  # noqa: F401
from mailapp import ROOT, create_app
from mailapp.config import sending_settings
from mailapp.extensions import db
from tests.conftest import app_config
from tests.support.servers import RedisServer

pytestmark = pytest.mark.e2e

# Small groups and fast retries so faults play out in seconds.
PIPELINE_ENV = {
    "SEND_GROUP_SIZE": "10",
    "DISPATCH_BATCH_SIZE": "100",
    "DISPATCH_MAX_BATCHES": "4",
    "DISPATCH_RETRY_SECONDS": "10",
    "SEND_LEASE_SECONDS": "5",
    "SEND_BACKOFF": "1,1,1,1",
    "SEND_QUEUE_LIFETIME": "4",
    "SMTP_TIMEOUT": "5",
    "SCHEDULER_LOCK_TTL": "3",
    "WORKER_PROCESSES": "2",
    "WORKER_THREADS": "2",
    # As the Procfile: a stop never outlasts a platform's grace period (Heroku: 30 s).
    "WORKER_SHUTDOWN_TIMEOUT_MS": "20000",
}


# How many times the timeout a test names Stack.wait_for waits.
PATIENCE = 3


class Process:
    """A child process in its own session, so a SIGKILL takes its children too."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class Stack:
    def __init__(self, app: Flask, redis: RedisServer, env: dict[str, str], logs: Path) -> None:
        self.app, self.redis, self.logs = app, redis, logs
        processes, threads = env["WORKER_PROCESSES"], env["WORKER_THREADS"]
        # Rows a killed worker can leave unknown: processes x threads x SEND_GROUP_SIZE.
        self.in_flight = int(processes) * int(threads) * int(env["SEND_GROUP_SIZE"])
        shutdown = ["--worker-shutdown-timeout", env["WORKER_SHUTDOWN_TIMEOUT_MS"]]
        self.worker = Process(
            "worker",
            [
                sys.executable,
                "-m",
                "dramatiq",
                "workers.actors",
                "-p",
                processes,
                "-t",
                threads,
                *shutdown,
            ],
            env,
            logs / "worker.log",
        )
        self.scheduler = Process(
            "scheduler", [sys.executable, "-m", "workers.scheduler"], env, logs / "scheduler.log"
        )

    def wait_for(self, predicate, timeout: float = 90.0, every: float = 0.2) -> None:
        # A deadline that ends a hung test, not a speed check: it returns as soon as the
        # predicate holds. PATIENCE stretches it for a machine shared with xdist's other
        # worker (a Chromium next door) and other jobs, where 5000 sends took over 120 s.
        deadline = time.monotonic() + timeout * PATIENCE
        while time.monotonic() < deadline:
            with self.app.app_context():
                if predicate():
                    return
                db.session.remove()
            time.sleep(every)
        logs = "\n".join(p.read_text()[-3000:] for p in self.logs.glob("*.log"))
        raise AssertionError(f"condition not reached in {timeout * PATIENCE}s; logs:\n{logs}")


@pytest.fixture(scope="module")
def stack(
    postgres_server_url: str, postgres_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(postgres_server_url, postgres_template, tmp_path_factory) as stack:
        yield stack


@contextlib.contextmanager
def running_stack(
    postgres_server_url: str,
    postgres_template: str,
    tmp_path_factory: pytest.TempPathFactory,
    **overrides: str,
) -> Iterator[Stack]:
    """A worker and the scheduler on a database and a Redis of their own."""
    pipeline_env = {**PIPELINE_ENV, **overrides}
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    database_url = make_url(postgres_server_url).set(database=name)
    database_url = database_url.render_as_string(hide_password=False)
    redis = RedisServer().start()
    folder = tmp_path_factory.mktemp("e2e")
    config = app_config(database_url, redis.url, folder / "instance", **pipeline_env)
    env = {k: v for k, v in os.environ.items() if k != "DRAMATIQ_BROKER"}
    env.update({k: str(v) for k, v in config.items()})
    env.update(PYTHONPATH=str(ROOT), WORKER_HEARTBEAT_SECONDS="2", STARTUP_WAIT="20")
    app = create_app(config)
    app.config.update(sending_settings(pipeline_env))
    stack = Stack(app, redis, env, folder)
    stack.worker.start()
    stack.scheduler.start()
    try:
        yield stack
    finally:
        stack.worker.stop()
        stack.scheduler.stop()
        redis.cleanup()
        with app.app_context():
            db.engine.dispose()
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
