"""Who may log in."""

from __future__ import annotations

from mailapp.extensions import db
from mailapp.models import User
from mailapp.models.base import utcnow
from mailapp.services.users import get_user_by_email, verify_password


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None."""
    user = get_user_by_email(email)
    if user is None or not user.active or not verify_password(user, password):
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user
