"""Visual templates through the API: a document instead of html, refused by block, converted;
the brand they are compiled with, read and changed in one place."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.permissions import Permission
from mailapp.content.blocks import new_document
from mailapp.extensions import db
from mailapp.models import TemplateVersion
from tests.factories import make_project
from tests.support.api import ApiCaller

EVERYTHING = [p.value for p in Permission]


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def api(client, project):
    def caller(scopes=EVERYTHING, of=project):
        return ApiCaller(client, of, scopes)

    return caller


def versions() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(TemplateVersion))


def test_a_document_is_saved_compiled_and_returned(api):
    key = api(scopes=["templates.write"])
    doc = new_document()
    created = key.post("/templates", json={"name": "News", "subject": "Hi", "document": doc})
    assert created.status_code == 201, created.json
    version_id = created.json["versions"][0]["id"]
    shown = key.get(f"/templates/versions/{version_id}").json
    assert shown["document"] == doc
    assert "Your headline" in shown["html"]
    assert "{{ unsubscribe_url }}" in shown["html"]

    doc["sections"][0]["columns"][0]["blocks"][0]["text"] = "Second"
    saved = key.put(
        f"/templates/{created.json['id']}/draft", json={"subject": "Hi", "document": doc}
    )
    assert saved.status_code == 200
    assert saved.json["document"] == doc
    assert "Second" in saved.json["html"]


def test_a_bad_document_is_refused_with_the_block_and_nothing_is_saved(api):
    key = api()
    doc = new_document()
    doc["sections"][0]["columns"][0]["blocks"][0] = {"id": "b1", "type": "video"}
    before = versions()
    refused = key.post("/templates", json={"name": "News", "subject": "Hi", "document": doc})
    assert refused.status_code == 422
    assert refused.json["error"]["problems"] == [
        {"part": "block s1/c1/b1 (video)", "line": None, "reason": "unknown block type 'video'"}
    ]
    both = key.post(
        "/templates", json={"name": "N", "subject": "Hi", "document": new_document(), "html": "x"}
    )
    assert both.status_code == 422
    assert versions() == before


def test_a_visual_starter_and_convert_to_html(api):
    key = api()
    created = key.post("/templates", json={"name": "Hello", "starter": "visual_welcome"})
    assert created.status_code == 201
    template_id = created.json["id"]
    v1 = key.get(f"/templates/versions/{created.json['versions'][0]['id']}").json
    assert v1["document"]["version"] == 1
    converted = key.post(f"/templates/{template_id}/convert-to-html")
    assert converted.status_code == 200
    assert converted.json["document"] is None
    assert converted.json["html"] == v1["html"]
    again = key.post(f"/templates/{template_id}/convert-to-html")
    assert again.status_code == 422
    assert "already an HTML template" in again.json["error"]["message"]
    html_template = key.post("/templates", json={"name": "Plain", "starter": "announcement"}).json
    shown = key.get(f"/templates/versions/{html_template['versions'][0]['id']}").json
    assert shown["document"] is None


def test_the_brand_is_read_and_changed_in_one_place(api):
    key = api(scopes=["templates.write"])
    assert key.get("/brand").json["width"] == 600
    wrong = key.put("/brand", json={"primary": "#12345", "width": 100})
    assert wrong.status_code == 422
    assert set(wrong.json["error"]["fields"]) >= {"primary"}
    changed = key.put("/brand", json={"primary": "#AA0000", "font": "georgia"})
    assert changed.status_code == 200
    assert (changed.json["primary"], changed.json["font"]) == ("#aa0000", "georgia")
    assert key.get("/brand").json["primary"] == "#aa0000"
    assert api(scopes=["contacts.write"]).get("/brand").status_code == 403
    doc = new_document()
    doc["sections"][0]["columns"][0]["blocks"].insert(
        0, {"id": "x", "type": "button", "label": "Go", "href": "https://e.com"}
    )
    created = key.post("/templates", json={"name": "News", "subject": "Hi", "document": doc}).json
    html = key.get(f"/templates/versions/{created['versions'][0]['id']}").json["html"]
    assert "#aa0000" in html
    assert "Georgia" in html
