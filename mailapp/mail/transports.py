"""Transports: how a finished message leaves us. One small interface, chosen by URL.

`smtp://user:pass@host:587?starttls=1` and `smtps://host:465` (implicit TLS). The
development capture server is plain SMTP on 127.0.0.1:1025, so it is the same transport.
A transport keeps its connection open across messages and reconnects when it drops;
a `TransportPool` shares a few of them safely between a worker's threads.
"""

from __future__ import annotations

import contextlib
import queue
import smtplib
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from mailapp.models import Sender

# "unknown": the connection died after the message data went out, so the server may have
# taken it; retrying could deliver twice, so a person decides (resend action).
Outcome = Literal["sent", "deferred", "failed", "unknown"]
# A pooled connection unused for longer is closed and opened again before the next message.
MAX_IDLE_SECONDS = 30.0


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    code: int | None
    reply: str

    @property
    def enhanced_code(self) -> str | None:
        """The RFC 3463 code at the start of the reply text, e.g. '5.1.1'."""
        head = self.reply.split(" ", 1)[0]
        parts = head.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts) and head[0] in "245":
            return head
        return None


class Transport(Protocol):
    def send(self, mail_from: str, rcpt_to: str, data: bytes) -> SendResult: ...

    def close(self) -> None: ...


def outcome_for(code: int) -> Outcome:
    if 200 <= code < 300:
        return "sent"
    return "deferred" if 400 <= code < 500 else "failed"


class SmtpTransport:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("transport URL must be smtp:// or smtps:// with a host")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.host = parts.hostname
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = options.get("starttls", "0") in ("1", "true", "yes")
        self.verify_tls = options.get("verify", "1") in ("1", "true", "yes")
        self.timeout = timeout
        self._conn: smtplib.SMTP | None = None
        self._used_at = 0.0

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._tls_context()
            )
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        conn.ehlo()
        if self.starttls:
            conn.starttls(context=self._tls_context())
            conn.ehlo()
        if self.username:
            conn.login(self.username, self.password or "")
        return conn

    def send(self, mail_from: str, rcpt_to: str, data: bytes) -> SendResult:
        """Hand one message to the server.

        A connection idle for more than MAX_IDLE_SECONDS is replaced first (servers close
        idle ones: Postfix after 300 s, or 10 s under stress). A reused connection found
        dropped, or whose MAIL gets a 421 (an idle timeout, a per-connection limit), is
        reopened once. A 421 from a fresh connection, at RCPT or DATA, or naming a policy
        (4.7.x) is the server's answer to this message: deferred, and the caller slows down.
        """
        if self._conn is not None and time.monotonic() - self._used_at > MAX_IDLE_SECONDS:
            self._drop()  # no QUIT: a server already gone would hold us for the timeout
        for attempt in (1, 2):
            try:
                reused = self._conn is not None
                if not reused:
                    self._conn = self._connect()
                result = self._transaction(self._conn, mail_from, rcpt_to, data)
                self._used_at = time.monotonic()
                return result
            except _ClosingAtMail as exc:
                self._drop()
                if not reused or (exc.result.enhanced_code or "").startswith("4.7."):
                    return exc.result
            except _LostBeforeData as exc:
                self._drop()
                if attempt == 2:
                    return SendResult("deferred", None, f"connection lost: {exc}")
            except _LostAfterData as exc:
                self._drop()
                return SendResult("unknown", None, f"connection lost after DATA: {exc}")
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                return SendResult("deferred", None, f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")

    def _transaction(
        self, conn: smtplib.SMTP, mail_from: str, rcpt_to: str, data: bytes
    ) -> SendResult:
        """MAIL, RCPT, DATA (in one write when the server offers PIPELINING), then the data."""
        try:
            if conn.has_extn("pipelining"):
                conn.send("".join(f"{line}\r\n" for line in _envelope(mail_from, rcpt_to)))
                refused = self._pipelined_replies(conn)
            else:
                refused = self._sequential_replies(conn, mail_from, rcpt_to)
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _LostBeforeData(str(exc)) from exc
        if refused is not None:
            return refused
        # From here on the server may have the message: a lost connection is "unknown".
        try:
            # Dot-stuffing (RFC 5321 4.5.2): a line that starts with "." gets one more.
            if b"\n." in data:
                data = data.replace(b"\n.", b"\n..")
            if data[:1] == b".":
                data = b"." + data
            if data[-2:] != b"\r\n":
                data += b"\r\n"
            conn.send(data + b".\r\n")
            code, reply = conn.getreply()
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _LostAfterData(str(exc)) from exc
        return SendResult(outcome_for(code), code, _text(reply))

    def _sequential_replies(
        self, conn: smtplib.SMTP, mail_from: str, rcpt_to: str
    ) -> SendResult | None:
        """None once the server waits for the data; else the refusal."""
        for command, expected in zip(_envelope(mail_from, rcpt_to), _GO_ON, strict=True):
            conn.putcmd(command)
            code, reply = conn.getreply()
            if code not in expected:
                if command.startswith("MAIL") and code == 421:
                    raise _ClosingAtMail(SendResult("deferred", code, _text(reply)))
                return self._refused(conn, code, reply)
        return None

    def _pipelined_replies(self, conn: smtplib.SMTP) -> SendResult | None:
        """The replies to a pipelined MAIL, RCPT, DATA (RFC 2920): the first refusal wins."""
        refusal = None
        for stage, expected in enumerate(_GO_ON):
            code, reply = conn.getreply()
            if refusal is None and code not in expected:
                if code == 421 and stage == 0:
                    raise _ClosingAtMail(SendResult("deferred", code, _text(reply)))
                if code == 421:  # closing: the later replies never come
                    return self._refused(conn, code, reply)
                refusal = (code, reply)
            elif refusal is not None and code == 354:
                # DATA accepted after a refused command: end an empty message, then reset.
                conn.send(b".\r\n")
                conn.getreply()
        return None if refusal is None else self._refused(conn, *refusal)

    def _refused(self, conn: smtplib.SMTP, code: int, reply: bytes) -> SendResult:
        if code == 421:  # the server is closing the connection
            self._drop()
        else:
            try:
                conn.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
        return SendResult(outcome_for(code), code, _text(reply))

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self._drop()


def _envelope(mail_from: str, rcpt_to: str) -> tuple[str, str, str]:
    return (f"MAIL FROM:<{mail_from}>", f"RCPT TO:<{rcpt_to}>", "DATA")


# The replies to MAIL, RCPT and DATA that let the transaction go on.
_GO_ON = ((250,), (250, 251), (354,))


class _LostBeforeData(Exception):
    pass


class _LostAfterData(Exception):
    pass


class _ClosingAtMail(Exception):
    """421 as the reply to MAIL: the server is closing the connection before this message
    (an idle timeout, a per-connection limit) or refusing it for now."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.reply)
        self.result = result


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def transport_url_for(sender: Sender | None) -> str:
    """The sender's own transport, else SMTP_URL."""
    url = (sender.transport_url if sender else None) or current_app.config.get("SMTP_URL")
    if not url:
        raise RuntimeError("no transport: set SMTP_URL or the sender's transport")
    return url


def open_transport(url: str, *, timeout: float = 30.0) -> Transport:
    return SmtpTransport(url, timeout=timeout)


class TransportPool:
    """Up to `size` open transports per URL, each used by one thread at a time.

    A worker process keeps one pool: its threads borrow a connection for a group of
    messages and give it back open, so connections live across batches.
    """

    def __init__(self, size: int, *, timeout: float = 30.0) -> None:
        self.size = size
        self.timeout = timeout
        self._lock = threading.Lock()
        self._idle: dict[str, queue.LifoQueue[Transport]] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    @contextlib.contextmanager
    def connection(self, url: str) -> Iterator[Transport]:
        with self._lock:
            idle = self._idle.setdefault(url, queue.LifoQueue())
            slots = self._slots.setdefault(url, threading.BoundedSemaphore(self.size))
        with slots:
            try:
                transport = idle.get_nowait()
            except queue.Empty:
                transport = open_transport(url, timeout=self.timeout)
            try:
                yield transport
            except BaseException:
                transport.close()
                raise
            idle.put(transport)

    def close(self) -> None:
        with self._lock:
            for idle in self._idle.values():
                while not idle.empty():
                    idle.get_nowait().close()
