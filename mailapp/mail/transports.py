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
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, has_app_context

from mailapp.mail.mailgun import SCHEMES as MAILGUN_SCHEMES
from mailapp.mail.mailgun import MailgunTransport
from mailapp.mail.results import Outcome, SendResult
from mailapp.models import Sender

__all__ = ["Outcome", "SendResult", "SmtpTransport", "Transport", "TransportPool"]

# A pooled connection unused for longer is closed and opened again before the next message.
MAX_IDLE_SECONDS = 30.0


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
                    return SendResult("deferred", None, f"connection lost: {exc}", True)
            except _LostAfterData as exc:
                self._drop()
                return SendResult("unknown", None, f"connection lost after DATA: {exc}")
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                return SendResult("deferred", None, f"{type(exc).__name__}: {exc}", True)
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
        return _result(code, reply, relay_stage=True)

    def _sequential_replies(
        self, conn: smtplib.SMTP, mail_from: str, rcpt_to: str
    ) -> SendResult | None:
        """None once the server waits for the data; else the refusal."""
        for command, expected in zip(_envelope(mail_from, rcpt_to), _GO_ON, strict=True):
            conn.putcmd(command)
            code, reply = conn.getreply()
            if code not in expected:
                if command.startswith("MAIL") and code == 421:
                    raise _ClosingAtMail(SendResult("deferred", code, _text(reply), True))
                return self._refused(conn, code, reply, relay_stage=not command.startswith("RCPT"))
        return None

    def _pipelined_replies(self, conn: smtplib.SMTP) -> SendResult | None:
        """The replies to a pipelined MAIL, RCPT, DATA (RFC 2920): the first refusal wins."""
        refusal = None
        for stage, expected in enumerate(_GO_ON):
            code, reply = conn.getreply()
            if refusal is None and code not in expected:
                if code == 421 and stage == 0:
                    raise _ClosingAtMail(SendResult("deferred", code, _text(reply), True))
                if code == 421:  # closing: the later replies never come
                    return self._refused(conn, code, reply, relay_stage=stage != 1)
                refusal = (code, reply, stage != 1)
            elif refusal is not None and code == 354:
                # DATA accepted after a refused command: end an empty message, then reset.
                conn.send(b".\r\n")
                conn.getreply()
        if refusal is None:
            return None
        return self._refused(conn, refusal[0], refusal[1], relay_stage=refusal[2])

    def _refused(
        self, conn: smtplib.SMTP, code: int, reply: bytes, *, relay_stage: bool
    ) -> SendResult:
        if code == 421:  # the server is closing the connection
            self._drop()
        else:
            try:
                conn.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
        return _result(code, reply, relay_stage=relay_stage)

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


def _result(code: int, reply: bytes, *, relay_stage: bool) -> SendResult:
    """The reply as a result; a 4xx at MAIL or DATA is the relay's own unless it names a
    policy (4.7.x: throttling, for the rate limiter), while one at RCPT is about the address."""
    result = SendResult(outcome_for(code), code, _text(reply))
    policy = (result.enhanced_code or "").startswith("4.7.")
    if relay_stage and result.outcome == "deferred" and not policy:
        return SendResult(result.outcome, code, result.reply, True)
    return result


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def transport_url_for(sender: Sender | None) -> str:
    """The sender's first enabled transport, else its old single URL, else SMTP_URL (for
    one-off mail such as previews; campaigns and transactional mail fail over between all)."""
    first = next((t.url for t in sender.transports if t.enabled), None) if sender else None
    url = first or (sender.transport_url if sender else None) or current_app.config.get("SMTP_URL")
    if not url:
        raise RuntimeError("no transport: set SMTP_URL or the sender's transport")
    return url


def open_transport(url: str, *, timeout: float = 30.0) -> Transport:
    """The transport a URL names: smtp(s):// or mailgun+https://."""
    if url.split("://", 1)[0] in MAILGUN_SCHEMES:
        return MailgunTransport(url, timeout=timeout, allow_private=_private_allowed(url))
    return SmtpTransport(url, timeout=timeout)


def _private_allowed(url: str) -> bool:
    """An ESP API on a private address only outside production (a local test server) or on
    the configured relay's host; SMTP relays are not checked: a relay on the local network
    is the usual set-up."""
    if not has_app_context():
        return False
    config = current_app.config
    relay = urlsplit(config.get("SMTP_URL") or "").hostname
    return config.get("MAILAPP_ENV") != "production" or urlsplit(url).hostname == relay


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
