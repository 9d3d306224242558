"""A process with a bad setting prints one line naming it and exits non-zero."""

import os
import subprocess
import sys

import pytest

from mailapp import ROOT
from tests.support.servers import free_port


def run_flask(tmp_path, *args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={**base, "INSTANCE_PATH": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "mysql://root@db/mail"}, "DATABASE_URL: unsupported scheme 'mysql'"),
        (
            {"MAILAPP_ENV": "production", "REDIS_URL": "redis://r"},
            "SECRET_KEY, ENCRYPTION_KEY: required in production",
        ),
    ],
)
def test_bad_configuration_is_one_clear_line(tmp_path, env, expected):
    result = run_flask(tmp_path, "check", **env)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_redis_is_named(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_flask(tmp_path, "check", REDIS_URL=url)
    assert result.returncode != 0
    assert f"REDIS_URL: cannot reach {url}" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_named(tmp_path, redis_url):
    port = free_port()
    result = run_flask(
        tmp_path,
        "check",
        DATABASE_URL=f"postgresql://u:secret@127.0.0.1:{port}/x",
        REDIS_URL=redis_url,
    )
    assert result.returncode != 0
    assert f"DATABASE_URL: cannot connect to postgresql+psycopg://u:***@127.0.0.1:{port}/x" in (
        result.stderr
    )
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr
