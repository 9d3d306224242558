"""Back-office users and their memberships (a role per project)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from werkzeug.security import check_password_hash, generate_password_hash

from mailapp.access.audit import Actor, record_audit
from mailapp.access.permissions import ROLE_PERMISSIONS
from mailapp.access.projects import get_project_by_slug
from mailapp.access.sessions import end_user_sessions
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Membership, Role, User
from mailapp.models.base import utcnow

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


def change_password(
    user: User, current: str, new: str, *, actor: Actor, keep_session: str | None = None
) -> int:
    """Replace a user's password after checking the current one; the person's other
    sessions end (all but `keep_session`, the token of the browser making the change).
    Returns how many sessions ended."""
    if not verify_password(user, current):
        raise ServiceError("the current password is wrong")
    if current == new:
        raise ServiceError("choose a password different from the current one")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    ended = end_user_sessions(user.id, "password changed", keep_token=keep_session)
    record_audit(
        actor, "user.password_change", project_id=None, obj=user, context={"sessions_ended": ended}
    )
    db.session.commit()
    return ended


def _membership(project_id: int, membership_id: int) -> Membership:
    membership = db.session.scalar(
        sa.select(Membership).where(
            Membership.project_id == project_id, Membership.id == membership_id
        )
    )
    if membership is None:
        raise NotFound("no such member in this project")
    return membership


def _check_grantable(role: Role, grantable: Iterable[str] | None) -> None:
    if grantable is not None and not ROLE_PERMISSIONS[role] <= set(grantable):
        raise ServiceError(f"you cannot grant the role {role.value}: it can do more than you")


def _owners(project_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.project_id == project_id,
            Membership.role == Role.OWNER,
            User.active.is_(True),
        )
    )


def _keep_an_owner(membership: Membership) -> None:
    if membership.role is Role.OWNER and _owners(membership.project_id) <= 1:
        raise ServiceError("a project keeps at least one active owner")


def invite_user(
    project_id: int,
    email: str,
    *,
    role: str,
    actor: Actor,
    name: str | None = None,
    grantable: Iterable[str] | None = None,
) -> tuple[Membership, str | None]:
    """Give a person a role in the project, creating their user if needed.

    Returns the membership and, for a new user, a generated password to hand over once.
    """
    role_value = parse_role(role)
    _check_grantable(role_value, grantable)
    email = normalize_login_email(email)
    user = get_user_by_email(email)
    password = None
    if user is None:
        password = generate_password()
        user = User(email=email, name=name or None, password_hash=hash_password(password))
        db.session.add(user)
        db.session.flush()
    elif db.session.scalar(
        sa.select(Membership.id).where(
            Membership.user_id == user.id, Membership.project_id == project_id
        )
    ):
        raise ServiceError(f"{email} is already a member of this project")
    membership = Membership(user_id=user.id, project_id=project_id, role=role_value)
    db.session.add(membership)
    db.session.flush()
    record_audit(
        actor,
        "membership.create",
        project_id=project_id,
        obj=membership,
        context={"email": email, "role": role_value.value, "new_user": password is not None},
    )
    db.session.commit()
    return membership, password


def change_role(
    project_id: int,
    membership_id: int,
    role: str,
    *,
    actor: Actor,
    grantable: Iterable[str] | None = None,
) -> Membership:
    """Change a member's role; nobody changes their own, the last owner stays an owner."""
    membership = _membership(project_id, membership_id)
    role_value = parse_role(role)
    if membership.role is role_value:
        return membership
    if membership.user_id == actor.user_id:
        raise ServiceError("you cannot change your own role")
    _check_grantable(role_value, grantable)
    _check_grantable(membership.role, grantable)
    _keep_an_owner(membership)
    previous = membership.role
    membership.role = role_value
    # Signed in again, the person sees what the new role allows, nothing cached from the old.
    ended = end_user_sessions(membership.user_id, "role changed")
    record_audit(
        actor,
        "membership.change_role",
        project_id=project_id,
        obj=membership,
        context={
            "email": membership.user.email,
            "from": previous.value,
            "to": role_value.value,
            "sessions_ended": ended,
        },
    )
    db.session.commit()
    return membership


def remove_member(
    project_id: int, membership_id: int, *, actor: Actor, grantable: Iterable[str] | None = None
) -> None:
    """Take a person out of the project (their user stays for other projects)."""
    membership = _membership(project_id, membership_id)
    if membership.user_id == actor.user_id:
        raise ServiceError("you cannot remove yourself")
    _check_grantable(membership.role, grantable)
    _keep_an_owner(membership)
    record_audit(
        actor,
        "membership.delete",
        project_id=project_id,
        obj=membership,
        context={"email": membership.user.email, "role": membership.role.value},
    )
    db.session.delete(membership)
    db.session.commit()


def set_user_active(
    project_id: int,
    membership_id: int,
    active: bool,
    *,
    actor: Actor,
    grantable: Iterable[str] | None = None,
) -> User:
    """Deactivate (or reactivate) a member's login; only for users of this project alone."""
    membership = _membership(project_id, membership_id)
    user = membership.user
    if user.active == active:
        return user
    if user.id == actor.user_id:
        raise ServiceError("you cannot deactivate yourself")
    _check_grantable(membership.role, grantable)
    others = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(Membership.user_id == user.id, Membership.project_id != project_id)
    )
    if others or user.is_superuser:
        raise ServiceError(
            f"{user.email} also works in other projects; remove them from this one instead"
        )
    if not active:
        _keep_an_owner(membership)
    user.active = active
    context: dict[str, object] = {"email": user.email}
    if not active:
        context["sessions_ended"] = end_user_sessions(user.id, "deactivated")
    record_audit(
        actor,
        "user.activate" if active else "user.deactivate",
        project_id=project_id,
        obj=user,
        context=context,
    )
    db.session.commit()
    return user
