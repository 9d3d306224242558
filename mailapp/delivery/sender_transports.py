"""A sender's transports: add, change, remove, reorder; each change checked and audited.

The URL holds a password or an API key: it is stored encrypted, never shown back, never
written to the audit log; pages and answers show its kind and host only. A Mailgun URL on a
private address is refused in production (an operator's typo must not aim us inside the
network) unless it is the host of the configured SMTP_URL.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import redis
import sqlalchemy as sa
from flask import current_app

from mailapp.access.audit import Actor, record_audit
from mailapp.access.records import changed_fields
from mailapp.access.validation import FieldChecker
from mailapp.delivery.senders import get_sender
from mailapp.delivery.transport_choice import shared_health
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.integrations.webhooks import Refused, resolve_public
from mailapp.mail.mailgun import SCHEMES as MAILGUN_SCHEMES
from mailapp.mail.transports import open_transport
from mailapp.models import Project, SenderTransport

FIELDS = ("name", "url", "weight", "enabled")
MAX_WEIGHT = 1000
URL_HELP = (
    "smtp://user:password@host:587?starttls=1, smtps://host:465 or "
    "mailgun+https://api:KEY@api.mailgun.net/v3/your-domain"
)


def kind_of(url: str) -> str:
    """ "Mailgun" or "SMTP", for people."""
    return "Mailgun" if url.split("://", 1)[0] in MAILGUN_SCHEMES else "SMTP"


def host_of(url: str) -> str:
    """The host (and port when given), never the user name or password."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return host


def sender_transports(project: Project, sender_id: int) -> list[SenderTransport]:
    """The sender's transports in the order people arranged them."""
    return list(get_sender(project, sender_id).transports)


def get_transport(project: Project, sender_id: int, transport_id: int) -> SenderTransport:
    """One transport of one of the project's senders, else NotFound."""
    transport = db.session.scalar(
        sa.select(SenderTransport).where(
            SenderTransport.id == transport_id,
            SenderTransport.sender_id == sender_id,
            SenderTransport.project_id == project.id,
        )
    )
    if transport is None:
        raise NotFound(f"no transport {transport_id} for sender {sender_id}")
    return transport


def add_transport(
    project: Project, sender_id: int, values: Mapping[str, Any], *, actor: Actor
) -> SenderTransport:
    """A new transport at the end of the sender's list."""
    sender = get_sender(project, sender_id)
    transport = SenderTransport(project_id=project.id, sender_id=sender.id, weight=1, enabled=True)
    _apply(transport, values, creating=True)
    transport.position = max((t.position for t in sender.transports), default=-1) + 1
    sender.transports.append(transport)
    db.session.flush()
    record_audit(
        actor,
        "sender.transport.add",
        project_id=project.id,
        obj=transport,
        context=_context(transport),
    )
    db.session.commit()
    return transport


def update_transport(
    project: Project, sender_id: int, transport_id: int, values: Mapping[str, Any], *, actor: Actor
) -> SenderTransport:
    """Change the given fields; an empty or missing URL keeps the stored one."""
    transport = get_transport(project, sender_id, transport_id)
    _apply(transport, values, creating=False)
    changed = changed_fields(transport)
    if changed:
        context = {**_context(transport), "changed": changed}
        record_audit(
            actor, "sender.transport.update", project_id=project.id, obj=transport, context=context
        )
    db.session.commit()
    if "url" in changed or "enabled" in changed:
        _forget_health(transport.id)  # a new server, or back on: its old errors are not its own
    return transport


def remove_transport(project: Project, sender_id: int, transport_id: int, *, actor: Actor) -> None:
    """Remove a transport; with none left the sender's mail goes via SMTP_URL again."""
    transport = get_transport(project, sender_id, transport_id)
    record_audit(
        actor,
        "sender.transport.remove",
        project_id=project.id,
        obj=transport,
        context=_context(transport),
    )
    db.session.delete(transport)
    db.session.commit()
    _forget_health(transport_id)


def _forget_health(transport_id: int) -> None:
    with contextlib.suppress(redis.RedisError):  # the counts expire on their own anyway
        shared_health().forget(transport_id)


def move_transport(
    project: Project, sender_id: int, transport_id: int, step: int, *, actor: Actor
) -> None:
    """Move a transport up (-1) or down (+1) the list; positions are renumbered 0..n-1."""
    sender = get_sender(project, sender_id)
    order = list(sender.transports)
    index = next((i for i, t in enumerate(order) if t.id == transport_id), None)
    if index is None:
        raise NotFound(f"no transport {transport_id} for sender {sender_id}")
    target = min(max(index + step, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    for position, transport in enumerate(order):
        transport.position = position
    if target != index:
        record_audit(
            actor,
            "sender.transport.move",
            project_id=project.id,
            obj=order[target],
            context={**_context(order[target]), "position": target},
        )
    db.session.commit()


def _context(transport: SenderTransport) -> dict[str, Any]:
    """What the audit log keeps: never the URL, which holds the password or key."""
    return {
        "sender_id": transport.sender_id,
        "name": transport.name,
        "kind": kind_of(transport.url),
        "host": host_of(transport.url),
        "weight": transport.weight,
        "enabled": transport.enabled,
    }


def _apply(transport: SenderTransport, values: Mapping[str, Any], *, creating: bool) -> None:
    """Check every given field (all problems named at once), then set them."""
    check = FieldChecker()
    for name in sorted(set(values) - set(FIELDS)):
        check.fail(name, "not a field of a transport")
    parsed: dict[str, Any] = {}
    if "name" in values or creating:
        name = str(values.get("name") or "").strip()
        if not name:
            check.fail("name", "required, e.g. Main relay")
        elif len(name) > 100:
            check.fail("name", "at most 100 characters")
        parsed["name"] = name
    if values.get("url"):
        parsed["url"] = _url(check, str(values["url"]).strip())
    elif creating:
        check.fail("url", f"required: {URL_HELP}")
    if "weight" in values:
        parsed["weight"] = check.integer("weight", values["weight"], 0, MAX_WEIGHT, optional=False)
    if "enabled" in values:
        parsed["enabled"] = check.boolean("enabled", values["enabled"])
    check.raise_if_any()
    for name, value in parsed.items():
        setattr(transport, name, value)


def _url(check: FieldChecker, url: str) -> str | None:
    try:
        open_transport(url).close()
    except ValueError as exc:
        check.fail("url", f"{exc}; one of {URL_HELP}")
        return None
    if kind_of(url) == "Mailgun" and (problem := _private_target(url)):
        check.fail("url", problem)
        return None
    return url


def _private_target(url: str) -> str | None:
    """Why a Mailgun URL may not be used here, if it may not."""
    config = current_app.config
    host = urlsplit(url).hostname or ""
    if config.get("MAILAPP_ENV") != "production":
        return None
    if config.get("SMTP_URL") and host == urlsplit(config["SMTP_URL"]).hostname:
        return None  # the relay the operator configured for this installation
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            resolve_public(host, 443, allow_private=False)
        except Refused as exc:
            return f"{exc}: private addresses are refused"
        except OSError:
            return None  # checked again, on the address connected to, at every send
        return None
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address: private addresses are refused"
    return None
