"""Outbound webhooks: signed JSON events to integrators' endpoints, retried with backoff.

An event becomes one `WebhookAttempt` per matching endpoint, written in the transaction that
records the event (an outbox: nothing is lost if a process dies), and a scheduled job sends
the due ones. Each request carries

    X-Mailapp-Event:      the event type
    X-Mailapp-Delivery:   the attempt id (the same on every retry of one event)
    X-Mailapp-Timestamp:  unix seconds when signed
    X-Mailapp-Signature:  v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

Receivers recompute the HMAC over the timestamp, a dot and the exact body, compare in
constant time and refuse old timestamps (replays). Targets resolving to private, loopback,
link-local or otherwise non-public addresses are refused unless an operator set the
endpoint's allow_private; the address checked is the one connected to (no DNS rebinding), and
redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import AttemptStatus, WebhookAttempt, WebhookEndpoint
from mailapp.models.base import utcnow
from mailapp.runtime import metrics

EVENT_TYPES = (
    "delivered",
    "bounce_hard",
    "bounce_soft",
    "complaint",
    "unsubscribe",
    "open",
    "click",
    # An alert to the project's owners (mailapp.alerts): a guardrail pause, a rate over
    # its threshold, a queue piling up, a silent worker ...
    "alert.raised",
)
# Seconds after each failed attempt; past the last one the attempt is given up.
BACKOFF = (60, 300, 1800, 7200, 21600, 43200, 86400)
TIMEOUT_SECONDS = 10.0
CLAIM_SECONDS = 120
MAX_RESPONSE_CHARS = 2000


class Refused(Exception):
    """The target may not be contacted (private address, bad scheme): never retried."""


def create_endpoint(
    project_id: int,
    url: str,
    *,
    event_types: list[str] | None = None,
    active: bool = True,
    allow_private: bool = False,
    actor: Actor,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown once)."""
    validate_url(url)
    unknown = set(event_types or []) - set(EVENT_TYPES)
    if unknown:
        raise ServiceError(f"unknown event types: {', '.join(sorted(unknown))}")
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        project_id=project_id,
        url=url,
        secret=secret,
        event_types=sorted(event_types or []),
        active=active,
        allow_private=allow_private,
    )
    db.session.add(endpoint)
    db.session.flush()
    record_audit(
        actor,
        "webhook_endpoint.create",
        project_id=project_id,
        obj=endpoint,
        context={"url": url, "event_types": endpoint.event_types, "allow_private": allow_private},
    )
    db.session.commit()
    return endpoint, secret


def validate_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceError("a webhook URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise ServiceError("put credentials in the signature secret, not in the URL")


def publish_event(project_id: int, event_type: str, data: dict[str, Any]) -> int:
    """Queue one event for every active endpoint that wants it (in the caller's transaction)."""
    endpoints = db.session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.project_id == project_id, WebhookEndpoint.active.is_(True)
        )
    ).all()
    wanted = [e.id for e in endpoints if not e.event_types or event_type in e.event_types]
    if not wanted:
        return 0
    now = utcnow()
    payload = {
        "id": uuid.uuid4().hex,
        "type": event_type,
        "created_at": now.isoformat(),
        "data": data,
    }
    db.session.execute(
        sa.insert(WebhookAttempt),
        [
            {
                "project_id": project_id,
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "payload": payload,
                "status": AttemptStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in wanted
        ],
    )
    return len(wanted)


def queue_for_endpoint(
    project_id: int, endpoint_id: int, event_type: str, items: list[dict[str, Any]]
) -> int:
    """Queue one event per item for one endpoint, in the caller's transaction (a journey's
    webhook step: the step and its call are written together, the call is made later,
    signed and with its own retries). Nothing is queued for an inactive endpoint."""
    active = db.session.scalar(
        sa.select(WebhookEndpoint.id).where(
            WebhookEndpoint.project_id == project_id,
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.active.is_(True),
        )
    )
    if active is None or not items:
        return 0
    now = utcnow()
    db.session.execute(
        sa.insert(WebhookAttempt),
        [
            {
                "project_id": project_id,
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "payload": {
                    "id": uuid.uuid4().hex,
                    "type": event_type,
                    "created_at": now.isoformat(),
                    "data": data,
                },
                "status": AttemptStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for data in items
        ],
    )
    return len(items)


def retry_attempts(project_id: int, attempt_ids: list[int], *, actor: Actor) -> int:
    """Send the given events again now (an operator's decision after fixing the receiver)."""
    count = db.session.execute(
        sa.update(WebhookAttempt)
        .where(WebhookAttempt.project_id == project_id, WebhookAttempt.id.in_(attempt_ids))
        .values(status=AttemptStatus.PENDING, next_attempt_at=utcnow(), error=None)
    ).rowcount
    record_audit(
        actor, "webhook_attempt.retry", project_id=project_id, context={"ids": attempt_ids}
    )
    db.session.commit()
    return count


def deliver_due(*, limit: int = 100, now: datetime | None = None) -> int:
    """Send the due attempts (claimed so that concurrent workers never send one twice)."""
    now = now or utcnow()
    due = db.session.execute(
        sa.select(WebhookAttempt.id, WebhookAttempt.next_attempt_at)
        .where(
            WebhookAttempt.status == AttemptStatus.PENDING,
            WebhookAttempt.next_attempt_at <= now,
        )
        .order_by(WebhookAttempt.next_attempt_at)
        .limit(limit)
    ).all()
    sent = 0
    for attempt_id, scheduled in due:
        claimed = db.session.execute(
            sa.update(WebhookAttempt)
            .where(WebhookAttempt.id == attempt_id, WebhookAttempt.next_attempt_at == scheduled)
            .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        ).rowcount
        db.session.commit()
        if claimed:
            deliver_attempt(attempt_id)
            sent += 1
    return sent


def deliver_attempt(attempt_id: int) -> WebhookAttempt:
    """Make one HTTP attempt and record its outcome (and the next try, with backoff)."""
    attempt = db.session.get(WebhookAttempt, attempt_id)
    if attempt is None:
        raise NotFound("no such webhook attempt")
    endpoint = db.session.get(WebhookEndpoint, attempt.endpoint_id)
    body = json.dumps(attempt.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mailapp-webhooks/1",
        "X-Mailapp-Event": attempt.event_type,
        "X-Mailapp-Delivery": str(attempt.id),
        "X-Mailapp-Timestamp": timestamp,
        "X-Mailapp-Signature": "v1=" + sign(endpoint.secret, timestamp, body),
    }
    attempt.attempts += 1
    now = utcnow()
    try:
        status, text = post(endpoint.url, body, headers, allow_private=endpoint.allow_private)
    except Refused as exc:
        attempt.status, attempt.error, attempt.next_attempt_at = (
            AttemptStatus.FAILED,
            str(exc),
            None,
        )
    except (OSError, http.client.HTTPException) as exc:
        attempt.error = f"{type(exc).__name__}: {exc}"[:MAX_RESPONSE_CHARS]
        attempt.response_code = None
        _schedule_retry(attempt, now)
    else:
        attempt.response_code, attempt.response_body = status, text
        if 200 <= status < 300:
            attempt.status, attempt.delivered_at = AttemptStatus.SUCCEEDED, now
            attempt.next_attempt_at, attempt.error = None, None
        else:
            attempt.error = f"HTTP {status}" + (
                " (redirects are not followed)" if 300 <= status < 400 else ""
            )
            _schedule_retry(attempt, now)
    db.session.commit()
    metrics.WEBHOOK_ATTEMPTS.labels(_result(attempt)).inc()
    return attempt


def _result(attempt: WebhookAttempt) -> str:
    """delivered, retrying (tried again later) or given_up, for the attempts counter."""
    if attempt.status == AttemptStatus.SUCCEEDED:
        return "delivered"
    return "given_up" if attempt.status == AttemptStatus.FAILED else "retrying"


def _schedule_retry(attempt: WebhookAttempt, now: datetime) -> None:
    if attempt.attempts > len(BACKOFF):
        attempt.status, attempt.next_attempt_at = AttemptStatus.FAILED, None
    else:
        attempt.next_attempt_at = now + timedelta(seconds=BACKOFF[attempt.attempts - 1])


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def resolve_public(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: the first the host resolves to, refused unless public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise Refused(f"{host} resolves to the non-public address {ip}")
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> tuple[int, str]:
    """POST to the pinned, checked address; the response is not followed anywhere."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_public(parts.hostname, port, allow_private=allow_private)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(parts.hostname, address, port, timeout=TIMEOUT_SECONDS)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    try:
        connection.request("POST", path, body=body, headers={**headers, "Host": host_header})
        response = connection.getresponse()
        text = response.read(MAX_RESPONSE_CHARS).decode("utf-8", "replace")
        return response.status, text
    finally:
        connection.close()


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, verifying the certificate for the URL's host name."""

    def __init__(self, hostname: str, address: str, port: int, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._hostname = hostname

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._hostname)  # type: ignore[attr-defined]
