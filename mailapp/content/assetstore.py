"""Where asset files live: a local folder (default) or an S3-compatible bucket.

Chosen by ASSET_STORAGE_URL: empty = the folder ASSET_DIR; `s3://bucket/prefix?endpoint_url=
https://minio.example:9000&region=eu-central-1` = a bucket of AWS S3, MinIO, Ceph, R2 ...,
with credentials from the usual AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
Public URLs stay under BASE_URL either way (the web process streams the file), so the
bucket need not be public and switching storage does not change a sent message's links.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from flask import current_app


class AssetStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """The file on this machine, when there is one (served with sendfile)."""

    def read(self, key: str) -> bytes | None: ...


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.local_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)  # readers never see half a file

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    def read(self, key: str) -> bytes | None:
        path = self.local_path(key)
        return path.read_bytes() if path.is_file() else None


class S3Store:
    def __init__(self, url: str) -> None:
        import boto3  # only deployments that store assets in a bucket need it

        parts = urlsplit(url)
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.client = boto3.client(
            "s3", endpoint_url=options.get("endpoint_url"), region_name=options.get("region")
        )

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def local_path(self, key: str) -> None:
        return None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type
        )

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def read(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return response["Body"].read()


def asset_store() -> AssetStore:
    """The application's store, made once per app (an S3 client is costly to build)."""
    store = current_app.extensions.get("mailapp_asset_store")
    if store is None:
        url = current_app.config.get("ASSET_STORAGE_URL")
        if url:
            store = S3Store(url)
        else:
            configured = current_app.config.get("ASSET_DIR")
            root = Path(configured) if configured else Path(current_app.instance_path) / "assets"
            store = LocalStore(root)
        current_app.extensions["mailapp_asset_store"] = store
    return store
