"""Creating a template: the marketer picks a starter from the gallery."""

from __future__ import annotations

from mailapp.extensions import db
from mailapp.models import Template
from tests.admin.conftest import csrf_token, login
from tests.factories import make_project, make_user


def test_the_create_form_offers_the_gallery_and_uses_the_pick(app, client):
    project = make_project()
    login(client, make_user(project, "marketer"))
    form = client.get("/admin/template/new/").data.decode()
    for name in ("Announcement", "Newsletter", "Plain letter", "Product update"):
        assert f"{name}: " in form
    response = client.post(
        "/admin/template/new/",
        data={
            "csrf_token": csrf_token(client),
            "name": "June news",
            "kind": "marketing",
            "editor": "html",
            "starter": "newsletter",
        },
    )
    assert response.status_code == 302
    template = db.session.scalar(db.select(Template).where(Template.project_id == project.id))
    assert "Third story" in template.versions[0].html
    assert template.versions[0].subject == "This month at {{ project.name }}"


def test_an_unknown_starter_is_refused_on_the_field(app, client):
    project = make_project()
    login(client, make_user(project, "marketer"))
    page = client.post(
        "/admin/template/new/",
        data={
            "csrf_token": csrf_token(client),
            "name": "X",
            "kind": "marketing",
            "editor": "html",
            "starter": "no",
        },
    )
    assert page.status_code == 200
    assert b"Not a valid choice" in page.data
    assert db.session.scalar(db.select(Template).where(Template.project_id == project.id)) is None
