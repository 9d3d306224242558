"""Managing outbound webhook endpoints: add, change, rotate the secret, remove, list attempts.

The same rules wherever the change comes from (API, CLI): a known event type, an http(s) URL
without credentials, and no private, loopback or link-local target unless an operator allowed
it. An API key is never an operator. Each change leaves an audit entry; the signing secret
is returned once, by `add_endpoint` and `rotate_secret`, and never written to the audit log.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.validation import InvalidSettings
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.integrations.webhooks import (
    EVENT_TYPES,
    Refused,
    create_endpoint,
    resolve_public,
    retry_attempts,
    validate_url,
)
from mailapp.models import User, WebhookAttempt, WebhookEndpoint

OPERATORS_ONLY = "only an operator may allow private targets (in the back office)"
MAX_ATTEMPTS_PAGE = 200


def is_operator(actor: Actor) -> bool:
    """A superuser, or the system itself (CLI); never an API key."""
    if actor.api_key_id is not None:
        return False
    if actor.user_id is None:
        return True
    return bool(db.session.scalar(sa.select(User.is_superuser).where(User.id == actor.user_id)))


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or whose host is a non-public address.

    A name that does not resolve now is accepted: every send resolves and checks again, on
    the address it connects to.
    """
    problems = _target_problems(url, allow_private=allow_private)
    if problems:
        raise InvalidSettings({"url": problems})


def _target_problems(url: str, *, allow_private: bool) -> str | None:
    try:
        validate_url(url)
    except ServiceError as exc:
        return str(exc)
    if allow_private:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or 443
    except ValueError:
        return "the port is not a number"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # Names and the odd spellings of addresses (2130706433 is 127.0.0.1) by resolving.
        try:
            resolve_public(host, port, allow_private=False)
        except Refused as exc:
            return f"{exc}: private targets are refused"
        except OSError:
            return None
        return None
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address: private targets are refused"
    return None


def check_event_types(event_types: list[str]) -> list[str]:
    """The event types, sorted, or InvalidSettings naming the unknown ones."""
    unknown = set(event_types) - set(EVENT_TYPES)
    if unknown:
        named, known = ", ".join(sorted(unknown)), ", ".join(EVENT_TYPES)
        raise InvalidSettings({"event_types": f"unknown: {named} (known: {known})"})
    return sorted(set(event_types))


def add_endpoint(
    project_id: int,
    url: str,
    *,
    event_types: list[str] | None = None,
    active: bool = True,
    allow_private: bool = False,
    actor: Actor,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint with its signing secret (shown once), after the target checks."""
    if allow_private and not is_operator(actor):
        raise InvalidSettings({"allow_private": OPERATORS_ONLY})
    check_target(url, allow_private=allow_private)
    types = check_event_types(event_types or [])
    return create_endpoint(
        project_id,
        url,
        event_types=types,
        active=active,
        allow_private=allow_private,
        actor=actor,
    )


def list_endpoints(project_id: int) -> list[WebhookEndpoint]:
    query = sa.select(WebhookEndpoint).where(WebhookEndpoint.project_id == project_id)
    return list(db.session.scalars(query.order_by(WebhookEndpoint.id)))


def get_endpoint(project_id: int, endpoint_id: int) -> WebhookEndpoint:
    """The project's endpoint of that id (NotFound for another project's)."""
    endpoint = db.session.scalar(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.project_id == project_id, WebhookEndpoint.id == endpoint_id
        )
    )
    if endpoint is None:
        raise NotFound("no such webhook endpoint")
    return endpoint


def update_endpoint(
    project_id: int, endpoint_id: int, changes: dict[str, Any], *, actor: Actor
) -> WebhookEndpoint:
    """Change url, event_types, active or allow_private; only an operator may allow private.

    An operator's allowance covers the target they saw: anyone else who moves the endpoint
    to another URL ends it, so the new target must be public.
    """
    endpoint = get_endpoint(project_id, endpoint_id)
    url = changes.get("url", endpoint.url)
    allow_private = changes.get("allow_private", endpoint.allow_private)
    if not is_operator(actor):
        moved = url != endpoint.url
        if changes.get("allow_private") and (moved or not endpoint.allow_private):
            raise InvalidSettings({"allow_private": OPERATORS_ONLY})
        allow_private = allow_private and not moved
    if "url" in changes or "allow_private" in changes:
        check_target(url, allow_private=allow_private)
    types = check_event_types(changes.get("event_types", endpoint.event_types or []))
    before = _settings(endpoint)
    endpoint.url, endpoint.allow_private, endpoint.event_types = url, allow_private, types
    if "active" in changes:
        endpoint.active = bool(changes["active"])
    after = _settings(endpoint)
    changed = {key: after[key] for key in after if after[key] != before[key]}
    if changed:
        record_audit(
            actor,
            "webhook_endpoint.update",
            project_id=project_id,
            obj=endpoint,
            context={"changed": changed},
        )
    db.session.commit()
    return endpoint


def _settings(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "event_types": list(endpoint.event_types or []),
        "active": endpoint.active,
        "allow_private": endpoint.allow_private,
    }


def rotate_secret(
    project_id: int, endpoint_id: int, *, actor: Actor
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (the old one stops working at once), returned once."""
    endpoint = get_endpoint(project_id, endpoint_id)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint.secret = secret
    record_audit(actor, "webhook_endpoint.rotate_secret", project_id=project_id, obj=endpoint)
    db.session.commit()
    return endpoint, secret


def delete_endpoint(project_id: int, endpoint_id: int, *, actor: Actor) -> None:
    """Remove an endpoint; its delivery history goes with it (ON DELETE CASCADE)."""
    endpoint = get_endpoint(project_id, endpoint_id)
    record_audit(
        actor,
        "webhook_endpoint.delete",
        project_id=project_id,
        obj=endpoint,
        context={"url": endpoint.url},
    )
    db.session.delete(endpoint)
    db.session.commit()


def recent_attempts(
    project_id: int, endpoint_id: int, *, before_id: int | None = None, limit: int = 50
) -> list[WebhookAttempt]:
    """A page of an endpoint's attempts, newest first (keyset: pass the last id seen)."""
    endpoint = get_endpoint(project_id, endpoint_id)
    query = sa.select(WebhookAttempt).where(
        WebhookAttempt.project_id == project_id, WebhookAttempt.endpoint_id == endpoint.id
    )
    if before_id is not None:
        query = query.where(WebhookAttempt.id < before_id)
    query = query.order_by(WebhookAttempt.id.desc()).limit(min(max(limit, 1), MAX_ATTEMPTS_PAGE))
    return list(db.session.scalars(query))


def retry_endpoint_attempts(
    project_id: int, endpoint_id: int, attempt_ids: list[int], *, actor: Actor
) -> int:
    """Send the given attempts of this endpoint again now; other ids are left alone."""
    endpoint = get_endpoint(project_id, endpoint_id)
    ids = list(
        db.session.scalars(
            sa.select(WebhookAttempt.id).where(
                WebhookAttempt.project_id == project_id,
                WebhookAttempt.endpoint_id == endpoint.id,
                WebhookAttempt.id.in_(attempt_ids),
            )
        )
    )
    if not ids:
        return 0
    return retry_attempts(project_id, ids, actor=actor)
