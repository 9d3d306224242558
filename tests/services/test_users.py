import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import AuditLog, Membership, Role, User
from mailapp.services import NotFound, ServiceError
from mailapp.services.auth import authenticate
from mailapp.services.users import create_user
from tests.factories import PASSWORD, TEST_ACTOR, make_project


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_user_gives_a_role_in_the_project_and_audits(app):
    project = make_project("acme")
    user = create_user(
        " Ada@Example.COM ", PASSWORD, role="marketer", project_slug="acme", actor=TEST_ACTOR
    )
    assert user.email == "ada@example.com"
    assert user.password_hash != PASSWORD
    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id))
    assert (membership.project_id, membership.role) == (project.id, Role.MARKETER)
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.create"))
    assert (entry.object_id, entry.actor, entry.context["role"]) == (
        str(user.id),
        "test",
        "marketer",
    )
    assert "password" not in entry.context


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"role": "boss", "project_slug": "acme"}, ServiceError, "unknown role 'boss'"),
        ({"role": "owner", "project_slug": "nope"}, NotFound, "no project 'nope'"),
    ],
)
def test_create_user_refuses_unknown_role_or_project(app, kwargs, error, message):
    make_project("acme")
    users, audits = count(User), count(AuditLog)
    with pytest.raises(error, match=message):
        create_user("ada@example.com", PASSWORD, actor=TEST_ACTOR, **kwargs)
    assert (count(User), count(AuditLog)) == (users, audits)


def test_short_password_and_duplicate_email_are_refused(app):
    make_project("acme")
    with pytest.raises(ServiceError, match="at least 10 characters"):
        create_user("a@example.com", "short", role="owner", project_slug="acme", actor=TEST_ACTOR)
    create_user("a@example.com", PASSWORD, role="owner", project_slug="acme", actor=TEST_ACTOR)
    with pytest.raises(ServiceError, match="already exists"):
        create_user("A@example.com", PASSWORD, role="owner", project_slug="acme", actor=TEST_ACTOR)


def test_authenticate_checks_password_and_active_flag(app):
    make_project("acme")
    user = create_user(
        "a@example.com", PASSWORD, role="owner", project_slug="acme", actor=TEST_ACTOR
    )
    assert authenticate("a@example.com", PASSWORD).user == user
    assert user.last_login_at is not None
    assert authenticate("a@example.com", PASSWORD + "x").user is None
    user.active = False
    db.session.commit()
    assert authenticate("a@example.com", PASSWORD).user is None


def test_audit_entries_cannot_be_changed_or_deleted(app):
    make_project("acme")
    entry = db.session.scalar(sa.select(AuditLog))
    entry.action = "rewritten"
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.scalar(sa.select(AuditLog)))
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
