import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.access.login import authenticate
from mailapp.access.permissions import ROLE_PERMISSIONS
from mailapp.access.users import (
    change_password,
    change_role,
    create_user,
    invite_user,
    remove_member,
    set_user_active,
)
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, Membership, Role, User
from tests.factories import PASSWORD, TEST_ACTOR, make_project
from tests.support.audit import one_audit_entry


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


ADMIN = Actor(label="boss@example.com", user_id=None, ip="192.0.2.1")


def test_invite_creates_a_user_with_a_one_time_password_or_adds_an_existing_one(app):
    acme, other = make_project("acme"), make_project("other")
    with one_audit_entry("membership.create") as entry:
        membership, password = invite_user(acme.id, "New@Example.com", role="marketer", actor=ADMIN)
    assert entry[0].context == {"email": "new@example.com", "role": "marketer", "new_user": True}
    assert entry[0].actor == ADMIN.label
    assert authenticate("new@example.com", password).user == membership.user
    with one_audit_entry("membership.create"):
        again, none = invite_user(other.id, "new@example.com", role="support", actor=ADMIN)
    assert none is None
    assert again.user_id == membership.user_id
    with pytest.raises(ServiceError, match="already a member"):
        invite_user(acme.id, "new@example.com", role="support", actor=ADMIN)
    with pytest.raises(ServiceError, match="cannot grant the role owner"):
        invite_user(
            acme.id,
            "x@example.com",
            role="owner",
            actor=ADMIN,
            grantable=ROLE_PERMISSIONS[Role.ADMIN],
        )


def test_roles_change_with_guards_for_self_the_last_owner_and_stronger_roles(app):
    acme = make_project("acme")
    owner = create_user("o@example.com", PASSWORD, role="owner", project_slug="acme", actor=ADMIN)
    owner_actor = Actor(label=owner.email, user_id=owner.id)
    member, _ = invite_user(acme.id, "m@example.com", role="analyst", actor=ADMIN)
    with one_audit_entry("membership.change_role") as entry:
        change_role(acme.id, member.id, "admin", actor=owner_actor)
    assert entry[0].context["from"] == "analyst"
    assert entry[0].context["to"] == "admin"
    with pytest.raises(ServiceError, match="your own role"):
        change_role(acme.id, owner.memberships[0].id, "admin", actor=owner_actor)
    with pytest.raises(ServiceError, match="at least one active owner"):
        change_role(acme.id, owner.memberships[0].id, "admin", actor=ADMIN)
    with pytest.raises(ServiceError, match="cannot grant"):
        change_role(
            acme.id, member.id, "owner", actor=ADMIN, grantable=ROLE_PERMISSIONS[Role.ADMIN]
        )
    with pytest.raises(NotFound):
        change_role(make_project().id, member.id, "support", actor=ADMIN)


def test_deactivate_and_remove_members(app):
    acme, other = make_project("acme"), make_project("other")
    create_user("o@example.com", PASSWORD, role="owner", project_slug="acme", actor=ADMIN)
    member, password = invite_user(acme.id, "m@example.com", role="support", actor=ADMIN)
    with one_audit_entry("user.deactivate"):
        set_user_active(acme.id, member.id, False, actor=ADMIN)
    assert authenticate("m@example.com", password).user is None
    with one_audit_entry("user.activate"):
        set_user_active(acme.id, member.id, True, actor=ADMIN)
    invite_user(other.id, "m@example.com", role="support", actor=ADMIN)
    with pytest.raises(ServiceError, match="other projects"):
        set_user_active(acme.id, member.id, False, actor=ADMIN)
    with one_audit_entry("membership.delete"):
        remove_member(acme.id, member.id, actor=ADMIN)
    assert db.session.get(Membership, member.id) is None


def test_change_password_checks_the_current_one(app):
    make_project("acme")
    user = create_user("a@example.com", PASSWORD, role="owner", project_slug="acme", actor=ADMIN)
    me = Actor(label=user.email, user_id=user.id)
    with pytest.raises(ServiceError, match="current password is wrong"):
        change_password(user, "nope", "another long password", actor=me)
    with one_audit_entry("user.password_change") as entry:
        change_password(user, PASSWORD, "another long password", actor=me)
    assert entry[0].actor_user_id == user.id
    assert "password" not in str(entry[0].context)
    assert authenticate("a@example.com", "another long password").user == user
