"""Mailgun's HTTP API as a transport: the raw MIME goes as is, so our DKIM signature holds.

`mailgun+https://api:KEY@api.mailgun.net/v3/example.com` posts to
`/v3/example.com/messages.mime` (multipart: `to` and `message`, HTTP basic auth). The
plain-HTTP form `mailgun+http://` is for tests against a loopback address only. The host is
resolved and checked on every connection (no DNS rebinding to a private address) unless
private targets are allowed (development, tests).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
from urllib.parse import unquote, urlsplit

from mailapp.mail.results import SendResult

SCHEMES = ("mailgun+https", "mailgun+http")
# Answers that are about our account or the service, not the recipient: another transport
# may take the message (401/403 a wrong key, 404 an unknown domain, 429 our rate, 5xx theirs).
RELAY_SIDE = (401, 403, 404, 408, 429)


class Refused(ValueError):
    """The URL points somewhere a transport may not connect to."""


class MailgunTransport:
    def __init__(self, url: str, *, timeout: float = 30.0, allow_private: bool = False) -> None:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname or not parts.password:
            raise ValueError("Mailgun URL: mailgun+https://api:KEY@api.mailgun.net/v3/<domain>")
        path = parts.path.rstrip("/")
        if not path.startswith("/v3/") or path.count("/") != 2:
            raise ValueError("Mailgun URL: the path is /v3/<your sending domain>")
        self.tls = parts.scheme == "mailgun+https"
        self.host = parts.hostname
        if not self.tls and not _is_loopback(self.host):
            raise ValueError("mailgun+http:// is for tests against 127.0.0.1; use mailgun+https")
        self.port = parts.port or (443 if self.tls else 80)
        self.path = f"{path}/messages.mime"
        user = unquote(parts.username or "api")
        token = base64.b64encode(f"{user}:{unquote(parts.password)}".encode()).decode()
        self._auth = f"Basic {token}"
        self.timeout = timeout
        self.allow_private = allow_private or not self.tls
        self._conn: http.client.HTTPConnection | None = None

    def send(self, mail_from: str, rcpt_to: str, data: bytes) -> SendResult:
        """POST the message; the answer's status decides the outcome."""
        body, content_type = _multipart(rcpt_to, data)
        headers = {"Authorization": self._auth, "Content-Type": content_type}
        try:
            conn = self._connection()
            conn.request("POST", self.path, body=body, headers=headers)
        except (OSError, http.client.HTTPException, Refused) as exc:
            self.close()
            return SendResult("deferred", None, f"{type(exc).__name__}: {exc}", True)
        try:
            response = conn.getresponse()
            text = response.read(4000).decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            # The whole message went out: Mailgun may have queued it, a resend could double.
            self.close()
            return SendResult("unknown", None, f"no answer after the message went out: {exc}")
        return _result(response.status, text)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            address = _address(self.host, self.port, allow_private=self.allow_private)
            if self.tls:
                self._conn = _PinnedHTTPS(self.host, address, self.port, self.timeout)
            else:
                self._conn = http.client.HTTPConnection(address, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _result(status: int, text: str) -> SendResult:
    reply = f"HTTP {status}: {_message(text)}"
    if 200 <= status < 300:
        return SendResult("sent", 250, reply)
    if status in RELAY_SIDE or status >= 500:
        return SendResult("deferred", None, reply, True)
    return SendResult("failed", None, reply)


def _message(text: str) -> str:
    """Mailgun's JSON `message` (and `id`), else the start of the body."""
    try:
        answer = json.loads(text)
    except ValueError:
        return text[:200].strip()
    if not isinstance(answer, dict):
        return text[:200].strip()
    return " ".join(str(answer[k]) for k in ("id", "message") if answer.get(k))[:300]


def _multipart(rcpt_to: str, data: bytes) -> tuple[bytes, str]:
    boundary = f"mailapp-{secrets.token_hex(12)}"
    head = f"--{boundary}\r\nContent-Disposition: form-data; name="
    body = (
        f'{head}"to"\r\n\r\n{rcpt_to}\r\n'
        f'{head}"message"; filename="message.mime"\r\n'
        "Content-Type: message/rfc822\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _address(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to, refused unless public (or private targets are allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    address = infos[0][4][0]
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not allow_private and (not ip.is_global or ip.is_multicast):
        raise Refused(f"{host} resolves to the non-public address {ip}")
    return address


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, verifying the certificate for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)
