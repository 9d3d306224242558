"""Template versions: refused at save with line and reason; draft -> review -> published."""

import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.content.rendering import compile_content, render_content, template_context
from mailapp.content.submission import TemplateRefused
from mailapp.content.templates import (
    Content,
    create_template,
    get_template,
    publish_version,
    return_to_draft,
    rollback,
    save_draft,
    submit_for_review,
)
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, TemplateVersion, VersionStatus
from tests.factories import make_project, make_user

HTML = (
    "<style>p { color: #333 }</style>\n"
    '<p>Hi {{ contact.first_name | default("there") }}</p>\n'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def refused(content: Content) -> list[tuple[str, int | None, str]]:
    with pytest.raises(TemplateRefused) as info:
        create_template(make_project(), "News", content, actor=Actor.system("t"))
    return [(p.part, p.line, p.reason) for p in info.value.problems]


@pytest.mark.parametrize(
    ("html", "line", "reason"),
    [
        ("<p>ok</p>\n<p>{{ contact.first_name </p>", 2, "unexpected '/'"),
        ("<p>ok</p>\n\n{% if contact.email %}<p>x</p>", 3, "Unexpected end of template"),
        ("<p>{{ customer.name }}</p>", 1, "unknown variable 'customer'"),
        ("<p>\n{{ contact.phone }}</p>", 2, "unknown variable 'contact.phone'"),
        ("<p>\n\n{{ ''.__class__ }}</p>", 3, "attribute '__class__' is not allowed"),
        ("<p>{{ contact.email | shout }}</p>", 1, "No filter named 'shout'"),
        ('<p>ok</p>\n<td {% if data.x %}class="a"{% endif %}>x</td>', 2, "between attributes"),
    ],
)
def test_bad_templates_are_refused_with_line_and_reason(app, html, line, reason):
    with app.app_context():
        problems = refused(Content(subject="Hello", html=html))
        assert len(problems) == 1
        part, found_line, found_reason = problems[0]
        assert part == "html"
        assert found_line == line
        assert reason in found_reason


def test_subject_and_variants_are_checked_too(app):
    with app.app_context():
        problems = refused(
            Content(
                subject="Hi {{ contact.nick }}",
                html="<p>x</p>",
                locale_variants={"de": {"html": "<p>{{ bad }}</p>"}, "no locale!": {}},
            )
        )
        assert ("subject", 1, problems[0][2]) == problems[0]
        assert "contact.nick" in problems[0][2]
        assert any(p[0] == "locale" for p in problems)
        assert any(p[0] == "de.html" and "'bad'" in p[2] for p in problems)


def test_saved_html_is_sanitized_and_inlined_and_renders(app):
    with app.app_context():
        project = make_project()
        user = make_user(project)
        actor = Actor(label=user.email, user_id=user.id)
        template = create_template(
            project,
            "Welcome",
            Content(subject="Welcome {{ contact.first_name }}", html=HTML + "<script>x()</script>"),
            actor=actor,
            comment="first cut",
        )
        version = template.versions[0]
        assert version.status == VersionStatus.DRAFT
        assert version.author_id == user.id
        assert version.comment == "first cut"
        assert "<script>" not in version.html
        assert "<style>" not in version.html
        assert '<p style="color: #333;">Hi {{ contact.first_name | default("there") }}</p>' in (
            version.html
        )
        ctx = template_context(
            {"first_name": "Ann", "email": "a@x.org"}, unsubscribe_url="https://u", view_url="v"
        )
        rendered = render_content(compile_content(version), ctx)
        assert "Hi Ann" in rendered.html
        assert rendered.subject == "Welcome Ann"
        assert "Unsubscribe (https://u)" in rendered.text


def test_workflow_publish_and_rollback_are_audited(app):
    with app.app_context():
        project = make_project()
        actor = Actor.system("editor")
        template = create_template(project, "News", Content(subject="v1", html=HTML), actor=actor)
        v1 = template.versions[0]

        # Saving again edits the open draft rather than piling up versions.
        assert (
            save_draft(project, template.id, Content(subject="v1b", html=HTML), actor=actor) is v1
        )
        with pytest.raises(ServiceError, match="only a version in review"):
            publish_version(project, v1.id, actor=actor)
        submit_for_review(project, v1.id, actor=actor)
        return_to_draft(project, v1.id, actor=actor, comment="fix the subject")
        assert v1.comment == "fix the subject"
        submit_for_review(project, v1.id, actor=actor)
        publish_version(project, v1.id, actor=actor)
        assert get_template(project, template.id).published_version_id == v1.id

        # A published version is never edited: saving opens v2.
        v2 = save_draft(project, template.id, Content(subject="v2", html=HTML), actor=actor)
        assert (v2.number, v1.subject) == (2, "v1b")
        submit_for_review(project, v2.id, actor=actor)
        publish_version(project, v2.id, actor=actor)
        assert (v1.status, v2.status) == (VersionStatus.ARCHIVED, VersionStatus.PUBLISHED)

        rollback(project, v1.id, actor=actor, comment="v2 had a typo")
        assert template.published_version_id == v1.id
        assert (v1.status, v2.status) == (VersionStatus.PUBLISHED, VersionStatus.ARCHIVED)
        with pytest.raises(ServiceError, match="only an earlier published version"):
            rollback(project, v1.id, actor=actor)

        actions = db.session.scalars(
            sa.select(AuditLog.action)
            .where(AuditLog.project_id == project.id, AuditLog.action.like("template.%"))
            .order_by(AuditLog.id)
        ).all()
        assert actions == [
            "template.create", "template.save", "template.submit", "template.return",
            "template.submit", "template.publish", "template.save", "template.submit",
            "template.publish", "template.rollback",
        ]  # fmt: skip


def test_other_projects_templates_are_not_found(app):
    with app.app_context():
        mine, other = make_project(), make_project()
        template = create_template(
            other, "Theirs", Content(subject="x", html="<p>x</p>"), actor=Actor.system()
        )
        with pytest.raises(ServiceError, match="no template"):
            save_draft(
                mine, template.id, Content(subject="y", html="<p>y</p>"), actor=Actor.system()
            )
        version_id = db.session.scalar(sa.select(TemplateVersion.id))
        with pytest.raises(ServiceError, match="no template version"):
            submit_for_review(mine, version_id, actor=Actor.system())
