"""Assets API: the image library of templates (upload, list, delete), as on the Assets page.

An upload is checked by what it is, not by its name (see content.assets); a refused file
answers 422 with the reason. Each asset has a public URL that never changes.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from mailapp.access.permissions import Permission
from mailapp.content.assets import asset_url, delete_asset, list_assets, upload_asset
from mailapp.models import Asset
from mailapp.web.api import ERROR, bp, document, require

ASSET_OUT = {
    "type": "object",
    "required": ["id", "filename", "content_type", "size", "width", "height", "url", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "filename": {"type": "string"},
        "content_type": {
            "type": "string",
            "enum": ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"],
        },
        "size": {"type": "integer", "description": "bytes"},
        "width": {"type": ["integer", "null"], "description": "pixels; null for a PDF"},
        "height": {"type": ["integer", "null"]},
        "url": {"type": "string", "format": "uri", "description": "public, for use in templates"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
UPLOAD_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "a PNG, JPEG, GIF or WebP image (decoded in full to check it), or "
            "a PDF; at most ASSET_MAX_BYTES (5 MB by default)",
        }
    },
}


def asset_json(asset: Asset) -> dict[str, Any]:
    return {
        "id": asset.id,
        "filename": asset.filename,
        "content_type": asset.content_type,
        "size": asset.size,
        "width": asset.width,
        "height": asset.height,
        "url": asset_url(asset),
        "created_at": asset.created_at.isoformat(),
    }


@bp.get("/assets")
@document(
    "The project's images and files, newest first",
    responses={200: {"type": "array", "items": ASSET_OUT}},
    tags=["assets"],
)
@require(Permission.TEMPLATES_WRITE)
def assets_list() -> Response:
    return jsonify([asset_json(a) for a in list_assets(g.project)])


@bp.post("/assets")
@document(
    "Upload an image or a PDF (multipart/form-data, field `file`)",
    description="A file that is not what it claims (an image that does not decode, a PDF "
    "that does not start like one), an SVG, or one too large answers 422 with the reason.",
    request=UPLOAD_IN,
    form=True,
    responses={201: ASSET_OUT, 422: ERROR},
    tags=["assets"],
)
@require(Permission.TEMPLATES_WRITE)
def assets_upload() -> tuple[Response, int]:
    upload = request.files["file"]
    asset = upload_asset(g.project, upload.filename or "", upload.read(), actor=g.actor)
    return jsonify(asset_json(asset)), 201


@bp.delete("/assets/<int:asset_id>")
@document(
    "Delete an asset",
    description="Its URL answers 404 from now on: messages already sent that show it lose it.",
    responses={204: None, 404: ERROR},
    tags=["assets"],
)
@require(Permission.TEMPLATES_WRITE)
def assets_delete(asset_id: int) -> tuple[str, int]:
    delete_asset(g.project, asset_id, actor=g.actor)
    return "", 204
