"""Issue 15 item 7: no log line the app or gunicorn writes shows a URL token.

The access log of a real gunicorn (./gunicorn.conf.py, the Procfile's flags) and the app's
own log format are read back after requests and log calls that carry tokens.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mailapp import create_app
from mailapp.runtime.redaction import redact
from tests.conftest import app_config
from tests.support.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def tokens(count: int) -> list[str]:
    return [f"SECRET{i}{secrets.token_urlsafe(12)}" for i in range(count)]


def _request(port: int, path: str, method: str = "GET", headers: dict | None = None) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers=headers or {}, data=None
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http here
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_gunicorn_access_log_shows_no_token(sqlite_template, redis_server_url, tmp_path):
    database = tmp_path / "app.db"
    shutil.copyfile(sqlite_template, database)
    config = app_config(f"sqlite:///{database}", redis_server_url, tmp_path / "instance")
    env = {k: v for k, v in os.environ.items() if k != "DRAMATIQ_BROKER"}
    env.update({k: str(v) for k, v in config.items()}, PYTHONPATH=str(ROOT))
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    # The Procfile's web command: access log on stdout, the default format (request line,
    # referrer, user agent).
    command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--access-logfile", "-"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    secret = tokens(9)
    try:
        wait_for_port(port)
        _request(port, f"/webhooks/ses/{secret[0]}", "POST")
        _request(port, f"/webhooks/mailgun/{secret[1]}", "POST")
        _request(port, f"/t/c/{secret[2]}")
        _request(port, f"/t/o/{secret[3]}")
        _request(
            port, f"/u/{secret[4]}/preferences", headers={"Referer": f"http://x/u/{secret[5]}"}
        )
        _request(port, f"/v/{secret[6]}")
        _request(port, f"/subscribe/confirm/{secret[7]}")
        _request(port, f"/api/v1/contacts?token={secret[8]}&after=1")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    written = log_path.read_text()
    for path in ("/webhooks/ses/", "/t/c/", "/t/o/", "/u/", "/v/", "/subscribe/confirm/"):
        assert f"{path}[redacted]" in written, written  # the line is there, the token is not
    assert "?token=[redacted]&after=1" in written
    assert not [t for t in secret if t in written], written


@pytest.fixture
def app_log(sqlite_template, redis_server_url, tmp_path):
    """What the app's own log format writes to the root handler create_app configures."""
    stream = tmp_path / "app.log"
    handler = logging.FileHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    database = tmp_path / "app.db"
    shutil.copyfile(sqlite_template, database)
    app = create_app(app_config(f"sqlite:///{database}", redis_server_url, tmp_path / "i"))
    yield app, stream
    root.removeHandler(handler)
    handler.close()


def test_app_log_lines_and_tracebacks_show_no_token(app_log):
    app, stream = app_log
    secret = tokens(4)
    app.logger.warning("webhook refused: POST /webhooks/ses/%s", secret[0])
    logging.getLogger("werkzeug").warning('"GET /t/c/%s HTTP/1.1" 302 -', secret[1])
    logging.getLogger("dramatiq").warning("fetched https://mail.test/u/%s?sig=%s", *secret[2:4])
    try:
        raise ValueError(f"cannot read /v/{secret[0]}")
    except ValueError:
        logging.getLogger("mailapp.web").exception("failed")
    written = stream.read_text()
    assert written.count("[redacted]") == 6, written
    assert not [t for t in secret if t in written], written


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("POST /webhooks/ses/abc HTTP/1.1", "POST /webhooks/ses/[redacted] HTTP/1.1"),
        ("GET /u/abc/preferences", "GET /u/[redacted]/preferences"),
        ("GET /x?api_key=k&page=2", "GET /x?api_key=[redacted]&page=2"),
        ("GET /subscribe/list-token", "GET /subscribe/list-token"),  # a public form's address
        ("GET /admin/contact/?page=2&sort=1", "GET /admin/contact/?page=2&sort=1"),
    ],
)
def test_redact_keeps_what_is_not_a_secret(line, expected):
    assert redact(line) == expected
