"""The image library through the API: multipart upload checked by content, list, delete."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.permissions import Permission
from mailapp.extensions import db
from mailapp.models import Asset, AuditLog
from tests.factories import image_bytes, make_project
from tests.support.api import ApiCaller


@pytest.fixture
def project(app):
    return make_project("acme")


@pytest.fixture
def api(client, project):
    """An ApiCaller with the given scopes (templates.write by default) of a project."""

    def caller(scopes=(Permission.TEMPLATES_WRITE.value,), of=project):
        return ApiCaller(client, of, scopes)

    return caller


def public_path(url: str) -> str:
    return url.removeprefix("http://mail.test")


def test_an_image_is_uploaded_listed_served_and_deleted(api, client, project):
    key = api()
    data = image_bytes("JPEG", (64, 32))
    uploaded = key.upload("/assets", data, "../../hero.jpeg")
    assert uploaded.status_code == 201
    body = uploaded.json
    assert (body["filename"], body["content_type"], body["size"]) == (
        "hero.jpeg",
        "image/jpeg",
        len(data),
    )
    assert (body["width"], body["height"]) == (64, 32)
    assert body["url"].startswith("http://mail.test/a/")
    assert body["url"].endswith(".jpg")
    with client.get(public_path(body["url"])) as served:
        assert (served.status_code, served.data) == (200, data)
    pdf = key.upload("/assets", b"%PDF-1.7\n", "terms.pdf").json
    assert (pdf["content_type"], pdf["width"], pdf["height"]) == ("application/pdf", None, None)

    listing = key.get("/assets")
    assert [a["id"] for a in listing.json] == [pdf["id"], body["id"]], "newest first"
    upload_entry = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "asset.upload").order_by(AuditLog.id)
    ).first()
    assert upload_entry.context["filename"] == "hero.jpeg"
    assert upload_entry.actor_api_key_id is not None

    assert key.delete(f"/assets/{body['id']}").status_code == 204
    assert client.get(public_path(body["url"])).status_code == 404
    assert [a["id"] for a in key.get("/assets").json] == [pdf["id"]]
    assert key.delete(f"/assets/{body['id']}").status_code == 404
    deleted = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "asset.delete"))
    assert deleted.context == {"filename": "hero.jpeg"}


def test_bad_files_are_refused_with_the_reason(app, api):
    key = api()
    fake = key.upload("/assets", b"<html><script>alert(1)</script></html>", "logo.png")
    assert fake.status_code == 422
    assert fake.json["error"]["code"] == "invalid"
    assert "not an image that can be decoded" in fake.json["error"]["message"]
    truncated = key.upload("/assets", image_bytes("PNG")[:60], "cut.png")
    assert truncated.status_code == 422
    svg = key.upload("/assets", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "icon.svg")
    assert svg.status_code == 422
    assert (
        key.upload("/assets", b"", "empty.png").json["error"]["message"]
        == "empty.png: the file is empty"
    )
    app.config["ASSET_MAX_BYTES"] = 2048
    large = key.upload("/assets", image_bytes("PNG", (400, 400)) + b"\0" * 4096, "big.png")
    assert (large.status_code, large.json["error"]["message"]) == (
        422,
        "big.png: larger than 2 KB",
    )

    no_file = key.post("/assets", data={"title": "x"}, content_type="multipart/form-data")
    assert no_file.status_code == 422
    assert no_file.json["error"]["fields"] == {
        "file": "required",
        "title": "not a field of this request",
    }
    assert key.post("/assets", json={"file": "x"}).json["error"]["fields"] == {"file": "required"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Asset)) == 0


def test_assets_are_per_project_and_need_the_templates_scope(api, client, project):
    theirs = api(of=make_project("other"))
    their_id = theirs.upload("/assets", image_bytes(), "theirs.png").json["id"]
    key = api()
    assert key.get("/assets").json == []
    missing = key.delete(f"/assets/{their_id}")
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "not_found")
    assert [a["id"] for a in theirs.get("/assets").json] == [their_id]

    reader = api([Permission.CONTACTS_READ.value])
    assert reader.get("/assets").status_code == 403
    assert reader.upload("/assets", image_bytes(), "x.png").status_code == 403
    assert reader.delete(f"/assets/{their_id}").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Asset)) == 1

    paths = client.get("/api/v1/openapi.json").json["paths"]
    upload = paths["/api/v1/assets"]["post"]
    assert upload["x-required-scope"] == "templates.write"
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert set(upload["responses"]) >= {"201", "401", "403", "422"}
    assert paths["/api/v1/assets"]["get"]["x-required-scope"] == "templates.write"
    assert paths["/api/v1/assets/{asset_id}"]["delete"]["x-required-scope"] == "templates.write"
