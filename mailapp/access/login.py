"""Who may log in, with throttling per account and per client address (Redis counters)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.users import get_user_by_email, verify_password
from mailapp.errors import NotFound
from mailapp.extensions import db, get_redis
from mailapp.models import Membership, User
from mailapp.models.base import utcnow

ACCOUNT_LIMIT = 5  # failures per account within the window before it is locked
IP_LIMIT = 20  # failures from one address within the window before it is locked
WINDOW_SECONDS = 15 * 60  # counting window, and how long a lockout lasts


@dataclass(frozen=True)
class LoginResult:
    """A user when the login succeeded; otherwise how long logins stay refused (if locked)."""

    user: User | None
    retry_after: int | None = None

    @property
    def locked(self) -> bool:
        return self.retry_after is not None

    @property
    def retry_minutes(self) -> int:
        return max(1, math.ceil((self.retry_after or 0) / 60))


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login:fail:{kind}:{digest}", f"login:lock:{kind}:{digest}"


def _locked_for(email: str, ip: str | None) -> int | None:
    redis = get_redis()
    waits = [redis.ttl(_keys("account", email)[1])]
    if ip:
        waits.append(redis.ttl(_keys("ip", ip)[1]))
    longest = max(waits)
    return longest if longest > 0 else None


def _count_failure(kind: str, value: str, limit: int) -> bool:
    """Count one failure; True when this failure engages the lock."""
    counter, lock = _keys(kind, value)
    redis = get_redis()
    with redis.pipeline() as pipe:
        # The window starts at the first failure: SET NX gives the counter its TTL, INCR keeps it.
        pipe.set(counter, 0, ex=WINDOW_SECONDS, nx=True)
        pipe.incr(counter)
        _, failures = pipe.execute()
    if failures >= limit:
        redis.set(lock, 1, ex=WINDOW_SECONDS)
        redis.delete(counter)
        return True
    return False


def authenticate(email: str, password: str, *, ip: str | None = None) -> LoginResult:
    """Log in an active user by email and password, unless the account or address is locked."""
    retry_after = _locked_for(email, ip)
    if retry_after is not None:
        return LoginResult(None, retry_after)
    user = get_user_by_email(email)
    if user is not None and user.active and verify_password(user, password):
        get_redis().delete(_keys("account", email)[0])
        user.failed_logins = 0
        user.last_login_at = utcnow()
        db.session.commit()
        return LoginResult(user)
    account_locked = _count_failure("account", email, ACCOUNT_LIMIT)
    ip_locked = bool(ip) and _count_failure("ip", ip, IP_LIMIT)
    if user is not None:
        user.failed_logins += 1
        if account_locked:
            user.locked_until = utcnow() + timedelta(seconds=WINDOW_SECONDS)
            record_audit(
                Actor(label=user.email, user_id=user.id, ip=ip),
                "user.locked",
                project_id=None,
                obj=user,
                context={"failures": ACCOUNT_LIMIT, "minutes": WINDOW_SECONDS // 60},
            )
        db.session.commit()
    if account_locked or ip_locked:
        return LoginResult(None, WINDOW_SECONDS)
    return LoginResult(None)


def unlock_member(project_id: int, membership_id: int, *, actor: Actor) -> User:
    """Lift the login lockout of a member of the project before its window ends."""
    user = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id, Membership.id == membership_id)
    )
    if user is None:
        raise NotFound("no such member in this project")
    get_redis().delete(*_keys("account", user.email))
    user.failed_logins = 0
    user.locked_until = None
    record_audit(
        actor, "user.unlock", project_id=project_id, obj=user, context={"email": user.email}
    )
    db.session.commit()
    return user
