"""The asset library: uploads checked by decoding them, stored on disk, audited."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.content.assets import asset_url, delete_asset, upload_asset
from mailapp.content.assetstore import asset_store
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog
from tests.factories import image_bytes, make_project

ACTOR = Actor.system("test")


@pytest.mark.parametrize(
    ("fmt", "content_type", "suffix"),
    [("PNG", "image/png", ".png"), ("JPEG", "image/jpeg", ".jpg"), ("GIF", "image/gif", ".gif")],
)
def test_images_are_identified_by_decoding_and_stored(app, fmt, content_type, suffix):
    data = image_bytes(fmt)
    with app.app_context():
        # The name says .png whatever it is: the decoded format decides type and extension.
        asset = upload_asset(make_project(), "../../etc/logo.png", data, actor=ACTOR)
        assert (asset.content_type, asset.width, asset.height) == (content_type, 40, 20)
        assert asset.filename == "logo.png"
        assert asset.storage_key.endswith(suffix)
        assert len(asset.storage_key) >= 32
        assert asset_store().local_path(asset.storage_key).read_bytes() == data
        assert asset_url(asset) == f"http://mail.test/a/{asset.storage_key}"
        action = db.session.scalar(
            sa.select(AuditLog.action).where(AuditLog.object_type == "Asset")
        )
        assert action == "asset.upload"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("evil.png", b"<html><script>alert(1)</script></html>", "not an image"),
        ("cut.png", image_bytes()[:60], "not an image"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not an image"),
        ("fake.pdf", b"MZ\x90\x00", "not a PDF"),
        ("empty.gif", b"", "empty"),
        ("huge.png", b"x" * (5 * 1024 * 1024 + 1), "larger than"),
    ],
)
def test_bad_uploads_are_refused(app, name, data, reason):
    with app.app_context():
        with pytest.raises(ServiceError, match=reason):
            upload_asset(make_project(), name, data, actor=ACTOR)
        assert not any(Path(app.config["ASSET_DIR"]).rglob("*"))


def test_decompression_bomb_is_refused(app):
    bomb = image_bytes("PNG", size=(8000, 6000))
    with app.app_context(), pytest.raises(ServiceError, match="too large"):
        upload_asset(make_project(), "bomb.png", bomb, actor=ACTOR)


def test_delete_removes_file_and_is_project_scoped(app):
    with app.app_context():
        project = make_project()
        asset = upload_asset(project, "a.png", image_bytes(), actor=ACTOR)
        key = asset.storage_key
        with pytest.raises(ServiceError, match="no asset"):
            delete_asset(make_project(), asset.id, actor=ACTOR)
        delete_asset(project, asset.id, actor=ACTOR)
        assert not asset_store().local_path(key).exists()
