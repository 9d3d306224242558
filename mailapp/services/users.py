"""Back-office users and their memberships (a role per project)."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from werkzeug.security import check_password_hash, generate_password_hash

from mailapp.extensions import db
from mailapp.models import Membership, Role, User
from mailapp.services import ServiceError
from mailapp.services.audit import Actor, record_audit
from mailapp.services.projects import get_project_by_slug

MIN_PASSWORD_LENGTH = 10


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ServiceError(
            f"unknown role {value!r}; choose one of {', '.join(r.value for r in Role)}"
        ) from None


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password, method="scrypt")


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def normalize_login_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ServiceError(f"email {email!r}: {exc}") from None


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def create_user(
    email: str,
    password: str,
    *,
    role: str,
    project_slug: str,
    actor: Actor,
    name: str | None = None,
    is_superuser: bool = False,
) -> User:
    """Create a user with a role in one project; refuses unknown roles and projects."""
    role_value = parse_role(role)
    project = get_project_by_slug(project_slug)
    email = normalize_login_email(email)
    if get_user_by_email(email):
        raise ServiceError(f"a user {email} already exists")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        is_superuser=is_superuser,
    )
    user.memberships.append(Membership(project_id=project.id, role=role_value))
    db.session.add(user)
    db.session.flush()
    record_audit(
        actor,
        "user.create",
        project_id=project.id,
        obj=user,
        context={"email": email, "role": role_value.value},
    )
    db.session.commit()
    return user
