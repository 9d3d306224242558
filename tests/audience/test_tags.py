"""Contact tags: bulk tag and untag scoped to the project, the exact set on one contact."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.audience.tags import (
    contact_tags,
    project_tags,
    set_contact_tags,
    tag_contacts,
    untag_contacts,
)
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, ContactTag
from tests.factories import TEST_ACTOR, make_contact, make_project


def test_bulk_tag_and_untag_stay_in_the_project(app) -> None:
    with app.app_context():
        project, other = make_project(), make_project()
        a, b = make_contact(project, "a@example.com"), make_contact(project, "b@example.com")
        stranger = make_contact(other, "s@example.com")
        ids = [a.id, b.id, stranger.id]
        assert tag_contacts(project.id, ids, " webinar ", actor=TEST_ACTOR) == 2
        assert tag_contacts(project.id, ids, "webinar", actor=TEST_ACTOR) == 0  # already tagged
        assert contact_tags(project.id, a.id) == ["webinar"]
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(ContactTag.contact_id == stranger.id)
            )
            == 0
        )
        assert project_tags(project.id) == [("webinar", 2)]
        assert untag_contacts(project.id, [a.id, stranger.id], "webinar", actor=TEST_ACTOR) == 1
        assert contact_tags(project.id, a.id) == []
        assert contact_tags(project.id, b.id) == ["webinar"]
        actions = db.session.scalars(
            sa.select(AuditLog.action).where(AuditLog.project_id == project.id)
        ).all()
        assert actions.count("contact.tag") == 2
        assert actions.count("contact.untag") == 1
        with pytest.raises(ServiceError, match="1-100"):
            tag_contacts(project.id, [a.id], "  ", actor=TEST_ACTOR)
        with pytest.raises(NotFound):
            contact_tags(project.id, stranger.id)


def test_set_contact_tags_adds_and_removes(app) -> None:
    with app.app_context():
        project = make_project()
        a = make_contact(project, "a@example.com")
        tag_contacts(project.id, [a.id], "old", actor=TEST_ACTOR)
        assert set_contact_tags(project.id, a.id, ["new", " vip ", "new"], actor=TEST_ACTOR) == [
            "new",
            "vip",
        ]
        assert contact_tags(project.id, a.id) == ["new", "vip"]
        entry = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "contact.set_tags")
        ).one()
        assert entry.context == {"added": ["new", "vip"], "removed": ["old"]}
