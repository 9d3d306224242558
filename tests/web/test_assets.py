"""GET /a/<key>: asset files with long caching, nosniff, and 404 for anything else."""

from mailapp.access.audit import Actor
from mailapp.content.assets import delete_asset, upload_asset
from tests.factories import image_bytes, make_project

ACTOR = Actor.system("test")


def test_image_served_with_caching_headers(app, client):
    data = image_bytes("PNG")
    with app.app_context():
        key = upload_asset(make_project(), "logo.png", data, actor=ACTOR).storage_key
    with client.get(f"/a/{key}") as response:
        assert response.status_code == 200
        assert response.data == data
        assert response.mimetype == "image/png"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        etag = response.headers["ETag"]
    with client.get(f"/a/{key}", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_pdf_is_an_attachment(app, client):
    with app.app_context():
        key = upload_asset(make_project(), "terms.pdf", b"%PDF-1.7\n", actor=ACTOR).storage_key
    with client.get(f"/a/{key}") as response:
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment")


def test_deleted_and_unknown_keys_are_404(app, client):
    with app.app_context():
        project = make_project()
        asset = upload_asset(project, "a.png", image_bytes(), actor=ACTOR)
        key = asset.storage_key
        delete_asset(project, asset.id, actor=ACTOR)
    assert client.get(f"/a/{key}").status_code == 404
    assert client.get("/a/not-a-key").status_code == 404
