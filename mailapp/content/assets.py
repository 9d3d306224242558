"""The asset library: images and files for templates, served from unguessable public URLs.

An upload is accepted by what it is, not by its name: images must decode completely with
Pillow (a PNG named .png that is really HTML, or a truncated JPEG, is refused), PDFs must
start like one. Files are kept by content.assetstore (a local folder, or an S3-compatible
bucket by setting); the URL names a random 192-bit key, never the project or the file name,
and never changes.
"""

from __future__ import annotations

import io
import secrets
import warnings
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from PIL import Image, UnidentifiedImageError

from mailapp.access.audit import Actor, record_audit
from mailapp.content.assetstore import asset_store
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Asset, Project

# Pillow format -> (content type, extension). SVG is absent on purpose: it can carry script.
IMAGE_TYPES = {
    "PNG": ("image/png", ".png"),
    "JPEG": ("image/jpeg", ".jpg"),
    "GIF": ("image/gif", ".gif"),
    "WEBP": ("image/webp", ".webp"),
}
FILE_TYPES = {".pdf": ("application/pdf", b"%PDF-")}
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded


def max_bytes() -> int:
    return int(current_app.config.get("ASSET_MAX_BYTES") or DEFAULT_MAX_BYTES)


def asset_url(asset: Asset) -> str:
    return f"{current_app.config['BASE_URL']}/a/{asset.storage_key}"


def upload_asset(project: Project, filename: str, data: bytes, *, actor: Actor) -> Asset:
    """Check, store and record one upload."""
    filename = Path(filename or "upload").name[:255]
    if not data:
        raise ServiceError(f"{filename}: the file is empty")
    if len(data) > max_bytes():
        raise ServiceError(f"{filename}: larger than {max_bytes() // 1024} KB")
    content_type, extension, size = _identify(filename, data)
    storage_key = secrets.token_urlsafe(24) + extension
    asset_store().put(storage_key, data, content_type)
    asset = Asset(
        project_id=project.id,
        filename=filename,
        content_type=content_type,
        size=len(data),
        storage_key=storage_key,
        width=size[0] if size else None,
        height=size[1] if size else None,
        uploaded_by_id=actor.user_id,
    )
    db.session.add(asset)
    db.session.flush()
    record_audit(
        actor,
        "asset.upload",
        project_id=project.id,
        obj=asset,
        context={"filename": filename, "size": len(data), "type": content_type},
    )
    db.session.commit()
    return asset


def _identify(filename: str, data: bytes) -> tuple[str, str, tuple[int, int] | None]:
    extension = Path(filename).suffix.lower()
    if extension in FILE_TYPES:
        content_type, magic = FILE_TYPES[extension]
        if not data.startswith(magic):
            raise ServiceError(f"{filename}: not a {extension[1:].upper()} file")
        return content_type, extension, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt, size = probe.format, probe.size
                if size[0] * size[1] > MAX_PIXELS:
                    raise ServiceError(f"{filename}: {size[0]}x{size[1]} pixels is too large")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() checks structure; load() proves the pixels decode
    except ServiceError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        allowed = ", ".join(sorted(f[1:] for f in [v[1] for v in IMAGE_TYPES.values()]))
        raise ServiceError(
            f"{filename}: not an image that can be decoded (allowed: {allowed}, pdf)"
        ) from None
    if fmt not in IMAGE_TYPES:
        raise ServiceError(f"{filename}: {fmt} images are not accepted")
    content_type, canonical = IMAGE_TYPES[fmt]
    return content_type, canonical, size


def list_assets(project: Project) -> list[Asset]:
    return list(
        db.session.scalars(
            sa.select(Asset).where(Asset.project_id == project.id).order_by(Asset.id.desc())
        )
    )


def delete_asset(project: Project, asset_id: int, *, actor: Actor) -> None:
    """Remove an asset; messages already sent that show it lose the image."""
    asset = db.session.scalar(
        sa.select(Asset).where(Asset.id == asset_id, Asset.project_id == project.id)
    )
    if asset is None:
        raise NotFound(f"no asset {asset_id}")
    db.session.delete(asset)
    record_audit(
        actor,
        "asset.delete",
        project_id=project.id,
        obj=asset,
        context={"filename": asset.filename},
    )
    db.session.commit()
    asset_store().delete(asset.storage_key)


def find_public_asset(storage_key: str) -> tuple[Asset, Path | bytes]:
    """The asset a public URL names (any project: the key is the secret), as a local file
    or its bytes."""
    asset = db.session.scalar(sa.select(Asset).where(Asset.storage_key == storage_key))
    if asset is None:
        raise NotFound("no such asset")
    store = asset_store()
    path = store.local_path(storage_key)
    if path is not None:
        if not path.is_file():
            raise NotFound("no such asset")
        return asset, path
    data = store.read(storage_key)
    if data is None:
        raise NotFound("no such asset")
    return asset, data
