"""Real local SMTP servers that fail the way relays do: close every connection at once,
answer 421 at MAIL, or drop the connection after the message data."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from tests.support.smtp_sink import SmtpSink


class Dropper:
    """A TCP server on loopback that accepts each connection and closes it at once."""

    def __init__(self) -> None:
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._server.getsockname()[1]}"

    def start(self) -> Dropper:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()


@dataclass
class ClosingAtMail(SmtpSink):
    """Answers MAIL with a 421: the relay is closing (busy, per-connection limit)."""

    mail_reply: str = "421 4.7.0 Too many connections, try again later"
    mails: int = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.mails += 1
        return self.mail_reply


class LostAfterData(SmtpSink):
    """Takes the data, then drops the connection before answering it."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope)
        server.transport.close()
        return "451 gone"
