"""Back office: the visual editor's pages and JSON endpoints, Settings → Brand, creating and
converting visual templates."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from mailapp.access.audit import Actor
from mailapp.content.blocks import new_document
from mailapp.content.brand import brand_for
from mailapp.content.templates import Content, create_template
from mailapp.extensions import db
from mailapp.models import Asset, Template, TemplateVersion
from tests.admin.conftest import csrf_token, login
from tests.factories import make_contact, make_project, make_user

TAG = '{{ contact.first_name | default("there") }}'


def _document(*blocks: dict) -> dict:
    doc = new_document()
    first = doc["sections"][0]["columns"][0]["blocks"]
    first[:] = [b for b in first if b["type"] == "footer"]
    first[0:0] = list(blocks)
    return doc


def _visual(project, *blocks: dict) -> Template:
    if not project.postal_address:
        project.postal_address = "Example Ltd, 1 Example Street, Berlin"
    doc = _document(*blocks) if blocks else new_document()
    content = Content(subject="Hello " + TAG, html="", document=doc)
    return create_template(project, "Visual", content, actor=Actor.system())


@pytest.fixture
def marketer(app, client):
    project = make_project()
    login(client, make_user(project, "marketer"))
    return project


def _versions(template_id: int) -> list[TemplateVersion]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(TemplateVersion).where(TemplateVersion.template_id == template_id)
    ).all()


def test_the_editor_page_carries_the_document_and_the_tag_picker(app, client, marketer):
    make_contact(marketer, attributes={"plan": "pro"})
    template = _visual(marketer)
    page = client.get(f"/admin/visual/{template.id}/")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'id="ve-doc"' in html
    assert 'sandbox=""' in html
    assert r"contact.first_name | default(\"there\")" in html
    assert "contact.attributes.plan" in html  # attributes the project's contacts carry
    assert "https://" not in html.split('id="ve-data"')[0].split("<script")[-1]  # no CDN


def test_roles_without_templates_write_are_refused(app, client):
    project = make_project()
    template = _visual(project)
    login(client, make_user(project, "analyst"))
    assert client.get(f"/admin/visual/{template.id}/").status_code == 403
    assert client.get("/admin/brand/").status_code == 403
    response = client.post(
        f"/admin/visual/{template.id}/save",
        json={"document": {}},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 403
    assert len(_versions(template.id)) == 1


def test_save_without_the_csrf_token_is_refused(app, client, marketer):
    template = _visual(marketer)
    doc = _document({"id": "h1", "type": "heading", "text": "Changed", "level": 1})
    response = client.post(
        f"/admin/visual/{template.id}/save", json={"document": doc, "subject": "S"}
    )
    assert response.status_code == 400
    assert "Changed" not in str(_versions(template.id)[0].document)


def test_a_refused_save_names_the_block_and_saves_nothing(app, client, marketer):
    template = _visual(marketer)
    before = _versions(template.id)[0].document
    image = {"id": "pic", "type": "image", "src": "https://cdn.example/a.png", "alt": ""}
    response = client.post(
        f"/admin/visual/{template.id}/save",
        json={"document": _document(image), "subject": "S"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["saved"] is False
    (problem,) = [p for p in body["problems"] if "pic" in p["part"]]
    assert "alt" in problem["message"]
    (version,) = _versions(template.id)
    assert version.document == before


def test_a_good_save_updates_the_draft_with_the_compiled_html(app, client, marketer):
    template = _visual(marketer)
    doc = _document({"id": "h1", "type": "heading", "text": "Summer sale", "level": 1})
    response = client.post(
        f"/admin/visual/{template.id}/save",
        json={"document": doc, "subject": "Sale", "preheader": "Ends Sunday"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["saved"] is True
    (version,) = _versions(template.id)
    assert version.document == doc
    assert "Summer sale" in version.html
    assert (version.subject, version.preheader) == ("Sale", "Ends Sunday")


def test_preview_renders_for_the_picked_contact_with_the_tag_filled(app, client, marketer):
    zoe = make_contact(marketer, email="zoe@example.org", first_name="Zoë")
    other = make_contact(make_project(), email="eve@example.org", first_name="Eve")
    template = _visual(marketer)
    doc = _document({"id": "h1", "type": "heading", "text": "Hi " + TAG, "level": 1})
    headers = {"X-CSRFToken": csrf_token(client)}
    url = f"/admin/visual/{template.id}/preview"
    body = client.post(
        url, json={"document": doc, "subject": "For " + TAG, "contact_id": zoe.id}, headers=headers
    ).get_json()
    assert "Hi Zoë" in body["html"]
    assert body["subject"] == "For Zoë"
    assert {c["name"] for c in body["checks"]} >= {"subject", "links", "image_weight"}
    # Another project's contact is not found: the sample contact is used instead.
    body = client.post(
        url, json={"document": doc, "subject": "S", "contact_id": other.id}, headers=headers
    ).get_json()
    assert "Hi Alex" in body["html"]
    assert "Eve" not in body["html"]
    dark = client.post(url, json={"document": doc, "subject": "S", "dark": True}, headers=headers)
    assert "invert(1)" in dark.get_json()["html"]
    assert len(_versions(template.id)) == 1  # a preview stores nothing


def test_contact_search_finds_by_email_or_name_in_this_project_only(app, client, marketer):
    make_contact(marketer, email="zoe@example.org", first_name="Zoë", last_name="Lamb")
    make_contact(make_project(), email="zoe@other.example", first_name="Zoë")
    by_name = client.get("/admin/visual/contacts?q=lamb").get_json()
    assert [c["email"] for c in by_name] == ["zoe@example.org"]
    by_email = client.get("/admin/visual/contacts?q=zoe@").get_json()
    assert [c["email"] for c in by_email] == ["zoe@example.org"]


def test_upload_in_place_adds_to_the_asset_library(app, client, marketer):
    png = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(png, "PNG")
    response = client.post(
        "/admin/visual/upload",
        data={"file": (io.BytesIO(png.getvalue()), "hero.png")},
        headers={"X-CSRFToken": csrf_token(client)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    asset = db.session.get(Asset, body["id"])
    assert asset.project_id == marketer.id
    assert body["url"].endswith(asset.storage_key)


def test_create_in_the_visual_editor_from_a_starter(app, client, marketer):
    response = client.post(
        "/admin/template/new/",
        data={
            "csrf_token": csrf_token(client),
            "name": "June news",
            "kind": "marketing",
            "editor": "visual",
            "visual_starter": "visual_newsletter",
        },
    )
    assert response.status_code == 302
    template = db.session.scalar(sa.select(Template).where(Template.project_id == marketer.id))
    assert response.location.endswith(f"/admin/visual/{template.id}/")
    assert template.versions[0].document is not None
    # The HTML editor sends a visual draft back to the visual editor.
    assert client.get(f"/admin/template/{template.id}/draft/").location.endswith(
        f"/admin/visual/{template.id}/"
    )


def test_convert_to_html_is_one_way_and_warned(app, client, marketer):
    template = _visual(marketer)
    versions_page = client.get(f"/admin/template/{template.id}/versions/").data.decode()
    assert "can't open it again" in versions_page or "cannot open" in versions_page
    response = client.post(
        f"/admin/template/{template.id}/convert/", data={"csrf_token": csrf_token(client)}
    )
    assert response.location.endswith(f"/admin/template/{template.id}/draft/")
    latest = _versions(template.id)[-1]
    assert latest.document is None
    assert "{{ unsubscribe_url }}" in latest.html
    assert client.get(f"/admin/visual/{template.id}/").status_code == 302  # to the HTML editor


def test_brand_page_saves_valid_values_and_refuses_bad_ones(app, client, marketer):
    token = csrf_token(client)
    form = {
        "csrf_token": token,
        "primary": "#aa0000",
        "text": "#111111",
        "background": "#eeeeee",
        "content_background": "#ffffff",
        "font": brand_for(marketer).font,
        "width": "900",
    }
    page = client.post("/admin/brand/", data=form)
    assert page.status_code == 200
    assert b'data-error-for="width"' in page.data
    db.session.expire_all()
    assert brand_for(marketer).primary != "#aa0000"  # nothing saved
    assert client.post("/admin/brand/", data=form | {"width": "640"}).status_code == 302
    db.session.expire_all()
    brand = brand_for(marketer)
    assert (brand.primary, brand.width) == ("#aa0000", 640)
