"""Assets in an S3-compatible bucket (a local moto server), served from the same URLs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mailapp.access.audit import Actor
from mailapp.content.assets import delete_asset, upload_asset
from mailapp.content.assetstore import S3Store, asset_store
from mailapp.extensions import db
from mailapp.models import Project
from tests.factories import image_bytes, make_project
from tests.support.servers import free_port

BUCKET = "mailapp-assets"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_assets_stored_in_the_bucket_and_served(app, client, bucket, s3_endpoint):
    app.config["ASSET_STORAGE_URL"] = (
        f"s3://{BUCKET}/assets?endpoint_url={s3_endpoint}&region=us-east-1"
    )
    data = image_bytes("PNG")
    with app.app_context():
        assert isinstance(asset_store(), S3Store)
        project = make_project()
        asset = upload_asset(project, "logo.png", data, actor=Actor.system())
        key, asset_id, project_id = asset.storage_key, asset.id, project.id
        stored = bucket.get_object(Bucket=BUCKET, Key=f"assets/{key}")
        assert stored["Body"].read() == data
        assert stored["ContentType"] == "image/png"
        assert not Path(app.config["ASSET_DIR"]).exists()

    with client.get(f"/a/{key}") as response:
        assert response.status_code == 200
        assert response.data == data
        assert response.mimetype == "image/png"
        etag = response.headers["ETag"]
    with client.get(f"/a/{key}", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304

    with app.app_context():
        delete_asset(db.session.get(Project, project_id), asset_id, actor=Actor.system())
    assert bucket.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert client.get(f"/a/{key}").status_code == 404
