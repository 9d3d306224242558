"""API keys: shown once at creation, stored as a SHA-256 hash, scoped to permissions."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.permissions import Permission
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import ApiKey
from mailapp.models.base import utcnow

KEY_PREFIX = "mk_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8
MAX_EXPIRY_DAYS = 3650
# last_used_at is a hint for people, not a log: write it at most once a minute per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    """Validated, de-duplicated permission names; refuses unknown ones and an empty set."""
    wanted = sorted({s.strip() for s in scopes if s and s.strip()})
    unknown = [s for s in wanted if s not in Permission.__members__.values()]
    if unknown:
        raise ServiceError(f"unknown scope(s): {', '.join(unknown)}")
    if not wanted:
        raise ServiceError("give the key at least one scope")
    return wanted


def create_api_key(
    project_id: int,
    name: str,
    scopes: Iterable[str],
    *,
    actor: Actor,
    expires_in_days: int | None = None,
    grantable: Iterable[str] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is never stored or shown again.

    `grantable` limits the scopes to those the creating person holds.
    """
    name = (name or "").strip()
    if not name:
        raise ServiceError("give the key a name")
    scope_list = parse_scopes(scopes)
    if grantable is not None:
        beyond = sorted(set(scope_list) - set(grantable))
        if beyond:
            raise ServiceError(f"you cannot grant scope(s) you do not hold: {', '.join(beyond)}")
    expires_at = None
    if expires_in_days is not None:
        if not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
            raise ServiceError(f"expiry must be between 1 and {MAX_EXPIRY_DAYS} days")
        expires_at = utcnow() + timedelta(days=expires_in_days)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        project_id=project_id,
        name=name,
        prefix=key[:PREFIX_LENGTH],
        key_hash=hash_key(key),
        scopes=scope_list,
        created_by_id=actor.user_id,
        expires_at=expires_at,
    )
    db.session.add(api_key)
    db.session.flush()
    record_audit(
        actor,
        "api_key.create",
        project_id=project_id,
        obj=api_key,
        context={"name": name, "scopes": scope_list, "expires_at": _iso(expires_at)},
    )
    db.session.commit()
    return api_key, key


def revoke_api_key(project_id: int, key_id: int, *, actor: Actor) -> ApiKey:
    """Revoke a key of the project at once; revoking twice changes nothing."""
    api_key = db.session.scalar(
        sa.select(ApiKey).where(ApiKey.project_id == project_id, ApiKey.id == key_id)
    )
    if api_key is None:
        raise NotFound("no such API key")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        record_audit(actor, "api_key.revoke", project_id=project_id, obj=api_key)
        db.session.commit()
    return api_key


class KeyProblem(enum.StrEnum):
    MISSING = "missing"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of authenticating a presented key: the key, or why it was refused."""

    api_key: ApiKey | None
    problem: KeyProblem | None = None


def authenticate_api_key(presented: str | None) -> KeyCheck:
    """Look a presented key up by its hash; refuses unknown, revoked and expired keys."""
    if not presented:
        return KeyCheck(None, KeyProblem.MISSING)
    digest = hash_key(presented)
    api_key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == digest))
    # The lookup is by hash; compare again in constant time all the same.
    if api_key is None or not hmac.compare_digest(api_key.key_hash, digest):
        return KeyCheck(None, KeyProblem.UNKNOWN)
    now = utcnow()
    if api_key.revoked_at is not None:
        return KeyCheck(api_key, KeyProblem.REVOKED)
    if api_key.expires_at is not None and api_key.expires_at <= now:
        return KeyCheck(api_key, KeyProblem.EXPIRED)
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(
            sa.update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now)
        )
        db.session.commit()
    return KeyCheck(api_key)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
