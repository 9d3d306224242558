import sqlalchemy as sa

from mailapp.audience.suppression import (
    email_hash,
    filter_unsuppressed,
    is_suppressed,
    suppress,
    unsuppress,
)
from mailapp.extensions import db
from mailapp.models import AuditLog, ContactStatus, Suppression, SuppressionReason
from tests.factories import TEST_ACTOR, make_contact, make_project


def test_suppress_marks_contact_and_is_idempotent(app):
    project = make_project()
    contact = make_contact(project, "ada@example.org")
    entry = suppress(
        project.id,
        " Ada@Example.org ",
        SuppressionReason.HARD_BOUNCE,
        actor=TEST_ACTOR,
        source="dsn",
    )
    again = suppress(project.id, "ada@example.org", SuppressionReason.COMPLAINT, actor=TEST_ACTOR)
    assert again.id == entry.id
    assert again.reason == SuppressionReason.HARD_BOUNCE
    assert entry.email_hash == email_hash("ada@example.org")
    db.session.refresh(contact)
    assert contact.status == ContactStatus.BOUNCED
    assert is_suppressed(project.id, "ADA@example.org")
    audits = db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.action == "suppression.add")
    ).all()
    assert audits == ["suppression.add"]


def test_suppression_is_per_project(app):
    first, second = make_project(), make_project()
    suppress(first.id, "ada@example.org", SuppressionReason.MANUAL, actor=TEST_ACTOR)
    assert not is_suppressed(second.id, "ada@example.org")
    assert filter_unsuppressed(first.id, ["ada@example.org", "bob@example.org"]) == {
        "bob@example.org"
    }


def test_unsuppress_removes_and_audits(app):
    project = make_project()
    entry = suppress(project.id, "ada@example.org", SuppressionReason.MANUAL, actor=TEST_ACTOR)
    unsuppress(project.id, entry.id, actor=TEST_ACTOR)
    assert not is_suppressed(project.id, "ada@example.org")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0
    assert db.session.scalar(
        sa.select(AuditLog.context).where(AuditLog.action == "suppression.remove")
    ) == {"reason": "manual"}
