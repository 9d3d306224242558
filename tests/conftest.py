"""Fixtures: real Redis, and every database test on both SQLite and PostgreSQL.

`make test` starts throwaway servers and passes TEST_REDIS_URL / TEST_POSTGRES_URL; a plain
`pytest` run starts its own for the session. Each test gets a fresh database copied from a
migrated template, so every test also runs on the migrated schema, not on create_all().
Under pytest-xdist (`make test` runs `-n auto`) each worker has its own Redis database
number and its own template, so workers share the two servers but no state on them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

os.environ["DRAMATIQ_BROKER"] = "stub"  # before anything imports workers.broker

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from mailapp import create_app
from mailapp.extensions import db
from tests.support.servers import REDIS_DATABASES, PostgresServer, RedisServer
from tests.support.xdist import worker_index, worker_name

# How the tests are spread over xdist workers: whole files, and the `serial` marker.
pytest_plugins = ["tests.support.scheduling"]

ENCRYPTION_KEY = Fernet.generate_key().decode()
# One template per xdist worker: CREATE DATABASE ... TEMPLATE refuses a template that another
# session is using, and each worker drops and re-migrates its own at session start.
TEMPLATE_DB = f"mailapp_template_{worker_name()}" if worker_name() else "mailapp_template"


def app_config(database_url: str, redis_url: str, instance: Path, **extra: object) -> dict:
    return {
        "MAILAPP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "INSTANCE_PATH": str(instance),
        "BASE_URL": "http://mail.test",
        "SMTP_URL": "smtp://127.0.0.1:1",
        **extra,
    }


def worker_redis_url(url: str) -> str:
    """The shared Redis server's URL with this xdist worker's own database number."""
    if not worker_name():
        return url
    if worker_index() >= REDIS_DATABASES:
        raise pytest.UsageError(f"at most {REDIS_DATABASES} xdist workers share one Redis server")
    return urlsplit(url)._replace(path=f"/{worker_index()}").geturl()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    if url := os.environ.get("TEST_REDIS_URL"):
        yield worker_redis_url(url)
        return
    server = RedisServer().start()
    yield server.url
    server.cleanup()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    if url := os.environ.get("TEST_POSTGRES_URL"):
        yield url
        return
    server = PostgresServer().start()
    yield server.url
    server.cleanup()


def _migrate(database_url: str, redis_url: str, instance: Path) -> None:
    app = create_app(app_config(database_url, redis_url, instance))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, redis_server_url: str) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}", redis_server_url, folder)
    return path


def _pg_admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(server_url, autocommit=True)


@pytest.fixture(scope="session")
def postgres_template(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    with _pg_admin(postgres_server_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    url = make_url(postgres_server_url).set(database=TEMPLATE_DB)
    _migrate(
        url.render_as_string(hide_password=False),
        redis_server_url,
        tmp_path_factory.mktemp("pg-template"),
    )
    return TEMPLATE_DB


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind for one test."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server_url = request.getfixturevalue("postgres_server_url")
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with _pg_admin(server_url) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with _pg_admin(server_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    # This worker's database only: FLUSHALL would wipe the other workers' in mid-test.
    redis.Redis.from_url(redis_server_url).flushdb()
    return redis_server_url


@pytest.fixture
def app(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    import workers.actors  # noqa: F401 - binds mailapp.tasks to the (stub) actors
    from workers.broker import app_context, broker

    app = create_app(app_config(database_url, redis_url, tmp_path / "instance"))
    app_context.set_app(app)
    broker.flush_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    app_context.set_app(None)


@pytest.fixture(scope="session")
def dns_server_session() -> Iterator[object]:
    from tests.support.dns_server import DnsServer

    with DnsServer() as server:
        yield server


@pytest.fixture
def dns_server(dns_server_session):
    """The tests' authoritative DNS server on 127.0.0.1, empty at the start of each test."""
    dns_server_session.set({})
    return dns_server_session
