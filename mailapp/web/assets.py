"""GET /a/<key>: the asset library's public files, cacheable forever (keys never change)."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Blueprint, abort, send_file
from flask.typing import ResponseReturnValue

from mailapp.content.assets import find_public_asset
from mailapp.errors import NotFound
from mailapp.extensions import csrf

bp = Blueprint("assets", __name__)
ONE_YEAR = 365 * 24 * 3600


@bp.get("/a/<key>")
@csrf.exempt
def asset(key: str) -> ResponseReturnValue:
    try:
        found, content = find_public_asset(key)
    except NotFound:
        abort(404)
    response = send_file(
        content if isinstance(content, Path) else io.BytesIO(content),
        mimetype=found.content_type,
        download_name=found.filename,
        as_attachment=not found.content_type.startswith("image/"),
        max_age=ONE_YEAR,
        conditional=True,
        etag=key,  # a key names one file forever
    )
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
