"""Back-office sessions kept on the server, so ending one is real.

The browser's (signed) cookie carries the user id and a random session token; each request
loads the user only while that token's session is open. Logout ends this session; a password
change ends the person's other sessions; a role change, a deactivation and "log out
everywhere" end all of them. A session that signed in without a second factor stops working
once any of the person's projects requires one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.extensions import db
from mailapp.models import Membership, Project, User, UserSession
from mailapp.models.base import utcnow

# The Flask session key holding this browser's session token.
SESSION_KEY = "signin_token"
# last_seen_at is written at most this often: a page view should not always be a write.
SEEN_EVERY = timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    user: User, *, method: str, ip: str | None, user_agent: str | None, actor: Actor
) -> str:
    """Open a session for a user who proved who they are; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_hash(token),
            method=method,
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
            last_seen_at=now,
        )
    )
    user.last_login_at = now
    record_audit(actor, "user.login", project_id=None, obj=user, context={"method": method})
    db.session.commit()
    return token


def two_factor_required(user_id: int) -> bool:
    """Whether one of the person's projects requires a second factor to sign in."""
    return bool(
        db.session.scalar(
            sa.select(Membership.id)
            .join(Project, Project.id == Membership.project_id)
            .where(Membership.user_id == user_id, Project.require_two_factor.is_(True))
            .limit(1)
        )
    )


def load_session_user(user_id: str, token: str | None) -> User | None:
    """The active user of an open session, or None (the request is then signed out)."""
    if not token or not user_id.isdigit():
        return None
    row = db.session.execute(
        sa.select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == int(user_id),
            User.active.is_(True),
            UserSession.token_hash == _hash(token),
            UserSession.ended_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    user, open_session = row
    if not open_session.two_factor and two_factor_required(user.id):
        return None
    now = utcnow()
    if now - open_session.last_seen_at > SEEN_EVERY:
        # A transaction of its own: the request's session may already hold the view's work.
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(UserSession)
                .where(UserSession.id == open_session.id)
                .values(last_seen_at=now)
            )
    return user


def end_session(token: str | None, *, actor: Actor) -> None:
    """Logout: end this browser's session (its cookie opens nothing afterwards)."""
    if not token:
        return
    open_session = db.session.scalar(
        sa.select(UserSession).where(
            UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None)
        )
    )
    if open_session is None:
        return
    open_session.ended_at = utcnow()
    open_session.end_reason = "logout"
    record_audit(actor, "user.logout", project_id=None, obj=open_session)
    db.session.commit()


def end_user_sessions(user_id: int, reason: str, *, keep_token: str | None = None) -> int:
    """End every open session of a person (but the one kept); in the caller's transaction."""
    query = sa.update(UserSession).where(
        UserSession.user_id == user_id, UserSession.ended_at.is_(None)
    )
    if keep_token:
        query = query.where(UserSession.token_hash != _hash(keep_token))
    result = db.session.execute(
        query.values(ended_at=utcnow(), end_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return result.rowcount


def set_session_method(token: str, method: str) -> None:
    """Record that this session has now also proved a second factor (in the caller's
    transaction)."""
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.token_hash == _hash(token))
        .values(method=method)
        .execution_options(synchronize_session=False)
    )


def log_out_everywhere(user: User, *, actor: Actor) -> int:
    """End every session of the person, this one included; returns how many ended."""
    ended = end_user_sessions(user.id, "log out everywhere")
    record_audit(
        actor, "user.logout_everywhere", project_id=None, obj=user, context={"sessions": ended}
    )
    db.session.commit()
    return ended


def open_sessions(user: User) -> list[UserSession]:
    """The person's open sessions, most recently used first."""
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def is_current(open_session: UserSession, token: str | None) -> bool:
    """Whether a listed session is the one making this request."""
    return bool(token) and open_session.token_hash == _hash(token)
