"""Template review: publishing needs templates.publish, and a second person unless the
project allows self-approval."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.access.audit import Actor
from mailapp.access.permissions import Permission, role_has
from mailapp.access.project_settings import update_sending_settings
from mailapp.content.templates import (
    Content,
    create_template,
    publish_version,
    rollback,
    save_draft,
    submit_for_review,
)
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, TemplateVersion, VersionStatus
from tests.factories import TEST_ACTOR, make_project, make_user

HTML = '<p>Hi</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'


def as_actor(user):
    return Actor(label=user.email, user_id=user.id)


def draft_in_review(project, author):
    template = create_template(project, "News", Content(subject="Hi", html=HTML), actor=author)
    version = template.versions[0]
    submit_for_review(project, version.id, actor=author)
    return version


def test_publish_is_its_own_permission_owners_and_admins_hold():
    assert role_has("owner", Permission.TEMPLATES_PUBLISH)
    assert role_has("admin", Permission.TEMPLATES_PUBLISH)
    assert role_has("marketer", Permission.TEMPLATES_WRITE)
    assert not role_has("marketer", Permission.TEMPLATES_PUBLISH)


def test_an_author_without_the_permission_cannot_publish(app):
    project = make_project()
    marketer = as_actor(make_user(project, "marketer"))
    version = draft_in_review(project, marketer)
    with pytest.raises(ServiceError, match=r"needs the templates\.publish permission"):
        publish_version(project, version.id, actor=marketer)
    db.session.rollback()
    assert db.session.get(TemplateVersion, version.id).status == VersionStatus.REVIEW
    admin = as_actor(make_user(project, "admin"))
    publish_version(project, version.id, actor=admin)
    assert db.session.get(TemplateVersion, version.id).status == VersionStatus.PUBLISHED
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "template.publish"))
    assert entry.actor_user_id == admin.user_id


def test_nobody_approves_their_own_draft_unless_the_project_allows_it(app):
    project = make_project()
    owner = as_actor(make_user(project, "owner"))
    version = draft_in_review(project, owner)
    with pytest.raises(ServiceError, match="your own draft"):
        publish_version(project, version.id, actor=owner)
    db.session.rollback()
    assert db.session.get(TemplateVersion, version.id).status == VersionStatus.REVIEW
    update_sending_settings(project, {"allow_self_approval": True}, actor=TEST_ACTOR)
    publish_version(project, version.id, actor=owner)
    assert db.session.get(TemplateVersion, version.id).status == VersionStatus.PUBLISHED


def test_the_last_editor_counts_as_the_author(app):
    project = make_project()
    marketer = as_actor(make_user(project, "marketer"))
    admin = as_actor(make_user(project, "admin"))
    template = create_template(project, "News", Content(subject="Hi", html=HTML), actor=marketer)
    version = save_draft(project, template.id, Content(subject="Hi!", html=HTML), actor=admin)
    submit_for_review(project, version.id, actor=admin)
    with pytest.raises(ServiceError, match="your own draft"):
        publish_version(project, version.id, actor=admin)


def test_rollback_needs_the_permission_and_api_keys_need_the_scope(app):
    project = make_project()
    version = draft_in_review(project, TEST_ACTOR)
    key, _ = create_api_key(project.id, "ci", ["templates.write"], actor=TEST_ACTOR)
    writer = Actor(label="api key ci", api_key_id=key.id)
    with pytest.raises(ServiceError, match=r"templates\.publish"):
        publish_version(project, version.id, actor=writer)
    db.session.rollback()
    publish_version(project, version.id, actor=TEST_ACTOR)
    v2 = save_draft(
        project, version.template_id, Content(subject="v2", html=HTML), actor=TEST_ACTOR
    )
    submit_for_review(project, v2.id, actor=TEST_ACTOR)
    publish_version(project, v2.id, actor=TEST_ACTOR)
    marketer = as_actor(make_user(project, "marketer"))
    with pytest.raises(ServiceError, match="restoring a version needs"):
        rollback(project, version.id, actor=marketer)
