"""Visual template versions: saved like HTML ones, refused whole, reviewed, rolled back."""

from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.access.validation import InvalidSettings
from mailapp.content.blocks import new_document
from mailapp.content.brand import brand_for, update_brand
from mailapp.content.conversion import convert_to_html
from mailapp.content.rendering import compile_content
from mailapp.content.submission import Content, TemplateRefused
from mailapp.content.templates import (
    create_template,
    publish_version,
    rollback,
    save_draft,
    submit_for_review,
)
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, TemplateVersion
from tests.factories import make_project

ACTOR = Actor.system("editor")


def doc_saying(words: str) -> dict:
    doc = new_document()
    doc["sections"][0]["columns"][0]["blocks"][0]["text"] = words
    return doc


def versions() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(TemplateVersion))


def test_a_refused_document_saves_nothing_and_names_the_block(app):
    with app.app_context():
        project = make_project()
        template = create_template(
            project, "News", Content("Hi", "", document=doc_saying("v1")), actor=ACTOR
        )
        before = versions()
        broken = doc_saying("v2")
        broken["sections"][0]["columns"][0]["blocks"][1]["html"] = "<script>x()</script>"
        with pytest.raises(TemplateRefused) as info:
            save_draft(project, template.id, Content("Hi", "", document=broken), actor=ACTOR)
        assert [(p.part, p.reason) for p in info.value.problems] == [
            ("block s1/c1/b2 (text)", "script is not allowed in rich text")
        ]
        db.session.rollback()
        with pytest.raises(TemplateRefused):
            create_template(project, "Other", Content("Hi", "", document={"x": 1}), actor=ACTOR)
        db.session.rollback()
        assert versions() == before
        assert db.session.get(TemplateVersion, template.versions[0].id).document == doc_saying("v1")


def test_review_and_rollback_bring_the_document_back(app):
    with app.app_context():
        project = make_project()
        template = create_template(
            project, "News", Content("Hi", "", document=doc_saying("first")), actor=ACTOR
        )
        v1 = template.versions[0]
        assert "first" in v1.html
        submit_for_review(project, v1.id, actor=ACTOR)
        publish_version(project, v1.id, actor=ACTOR)
        v2 = save_draft(
            project, template.id, Content("Hi", "", document=doc_saying("second")), actor=ACTOR
        )
        submit_for_review(project, v2.id, actor=ACTOR)
        publish_version(project, v2.id, actor=ACTOR)
        assert template.published_version.document == doc_saying("second")
        rollback(project, v1.id, actor=ACTOR)
        assert template.published_version.document == doc_saying("first")
        assert "first" in template.published_version.html


def test_locale_variants_carry_their_own_document(app):
    with app.app_context():
        project = make_project()
        template = create_template(
            project,
            "News",
            Content(
                "Hi",
                "",
                document=doc_saying("Hello"),
                locale_variants={"de": {"subject": "Hallo", "document": doc_saying("Guten Tag")}},
            ),
            actor=ACTOR,
        )
        version = template.versions[0]
        assert version.locale_variants["de"]["document"] == doc_saying("Guten Tag")
        assert "Guten Tag" in compile_content(version, "de").key[4]
        assert "Guten Tag" not in compile_content(version, "en").key[4]
        broken = copy.deepcopy(doc_saying("x"))
        broken["sections"][0]["columns"][0]["blocks"][0]["level"] = 7
        with pytest.raises(TemplateRefused) as info:
            save_draft(
                project,
                template.id,
                Content(
                    "Hi", "", document=doc_saying("y"), locale_variants={"de": {"document": broken}}
                ),
                actor=ACTOR,
            )
        assert info.value.problems[0].part == "de.block s1/c1/b1 (heading)"


def test_convert_to_html_is_one_way(app):
    with app.app_context():
        project = make_project()
        template = create_template(
            project, "News", Content("Hi", "", document=doc_saying("Hello")), actor=ACTOR
        )
        compiled = template.versions[0].html
        submit_for_review(project, template.versions[0].id, actor=ACTOR)
        draft = convert_to_html(project, template.id, actor=ACTOR)
        assert (draft.number, draft.document, draft.html) == (2, None, compiled)
        assert template.versions[0].document is not None  # the visual version stays
        with pytest.raises(ServiceError, match="already an HTML template"):
            convert_to_html(project, template.id, actor=ACTOR)
        assert db.session.scalar(
            sa.select(AuditLog.id).where(AuditLog.action == "template.convert_to_html")
        )


def test_the_brand_is_validated_audited_and_used(app):
    with app.app_context():
        project = make_project()
        assert brand_for(project).primary == "#1a5fb4"
        with pytest.raises(InvalidSettings) as info:
            update_brand(project, {"primary": "red", "width": 2000, "font": "comic"}, actor=ACTOR)
        assert set(info.value.errors) == {"primary", "width", "font"}
        brand = update_brand(project, {"primary": "#AA0000", "width": 640}, actor=ACTOR)
        assert (brand.primary, brand.width, brand.font) == ("#aa0000", 640, "helvetica")
        assert db.session.scalar(sa.select(AuditLog.id).where(AuditLog.action == "project.brand"))
        doc = new_document()
        doc["sections"][0]["columns"][0]["blocks"].insert(
            0, {"id": "x", "type": "button", "label": "Go", "href": "https://e.com"}
        )
        template = create_template(project, "News", Content("Hi", "", document=doc), actor=ACTOR)
        assert "#aa0000" in template.versions[0].html
        assert "max-width:640px" in template.versions[0].html
