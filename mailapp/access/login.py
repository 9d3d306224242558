"""Who may sign in: passwords checked at the same cost whether or not the account exists,
behind the exponential backoff of `access.throttle` (a delay per account and address, never
a lock anyone can put on someone else's account)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from mailapp.access import throttle
from mailapp.access.audit import Actor, record_audit
from mailapp.access.users import get_user_by_email
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import Membership, User

PURPOSES = ("password", "code")  # the password step and the two-factor code step


@dataclass(frozen=True)
class LoginResult:
    """A user when the check passed; otherwise how long until trying again (if waiting)."""

    user: User | None
    retry_after: int | None = None
    method: str = "password"  # how the person proved who they are, kept on the session

    @property
    def delayed(self) -> bool:
        return self.retry_after is not None

    @property
    def retry_text(self) -> str:
        """The wait in words: seconds under two minutes, minutes above."""
        seconds = self.retry_after or 0
        if seconds < 120:
            return f"{seconds} second{'s' if seconds != 1 else ''}"
        return f"{-(-seconds // 60)} minutes"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Same method and cost as real hashes: an unknown address costs what a known one does.
    return generate_password_hash(secrets.token_urlsafe(16), method="scrypt")


def authenticate(
    email: str,
    password: str,
    *,
    ip: str | None = None,
    device: str | None = None,
    now: float | None = None,
) -> LoginResult:
    """Check an email and password; an active user on success. Failures slow further tries."""
    found = throttle.counters("password", email, ip, device=device)
    wait = throttle.wait_seconds(found, now=now)
    if wait:
        return LoginResult(None, wait)
    user = get_user_by_email(email)
    matches = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if user is not None and user.active and matches:
        # The address's counter stays: it counts failures on other accounts too.
        throttle.clear(c.key for c in found if c.rule is not throttle.ADDRESS)
        return LoginResult(user)
    return record_failed_attempt(found, email, user, ip=ip, step="password", now=now)


def record_failed_attempt(
    found: list[throttle.Counter],
    email: str,
    user: User | None,
    *,
    ip: str | None,
    step: str,
    now: float | None = None,
) -> LoginResult:
    """Count a failure; once it makes someone wait, audit it (for known and unknown accounts
    alike, so neither the answer nor its timing tells whether the account exists)."""
    waits = throttle.record_failure(found, now=now)
    if not waits:
        return LoginResult(None)
    label = email.strip().lower()[:200]
    record_audit(
        Actor(label=label, user_id=user.id if user else None, ip=ip),
        "user.signin_delayed",
        project_id=None,
        obj=user,
        context={
            "email": label,
            "step": step,
            "waits": waits,
            "attempts": throttle.attempts(found),
        },
    )
    db.session.commit()
    return LoginResult(None, max(waits.values()))


def clear_signin_delay(project_id: int, membership_id: int, *, actor: Actor) -> User:
    """Lift the account-wide sign-in delay of a member of the project before it runs out."""
    user = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id, Membership.id == membership_id)
    )
    if user is None:
        raise NotFound("no such member in this project")
    throttle.clear(
        key for purpose in PURPOSES for key in throttle.account_keys(purpose, user.email)
    )
    record_audit(
        actor, "user.unlock", project_id=project_id, obj=user, context={"email": user.email}
    )
    db.session.commit()
    return user
