"""Open pixel and click redirect: answer fast, buffer the hit, never redirect elsewhere."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, request

from mailapp.extensions import csrf
from mailapp.services.tracking import (
    PIXEL_GIF,
    make_hit,
    read_open_token,
    record_hit,
    resolve_click,
)

bp = Blueprint("tracking", __name__)
csrf.exempt(bp)

NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}


def _counts() -> bool:
    # HEAD is what link checkers and some proxies send; only a real fetch is an event.
    return request.method == "GET"


@bp.get("/t/o/<path:token>", merge_slashes=False)
def open_pixel(token: str) -> Response:
    """The pixel for any token; only a genuine one records an open."""
    target = read_open_token(current_app.config["SECRET_KEY"], token)
    if target is not None and _counts():
        kind, item_id = target
        record_hit(
            make_hit("open", kind, item_id, None, request.user_agent.string, request.remote_addr)
        )
    return Response(PIXEL_GIF, mimetype="image/gif", headers=NO_CACHE)


@bp.get("/t/c/<path:token>", merge_slashes=False)
def click(token: str) -> Response:
    """302 to the campaign's own stored link; 404 (no Location) for anything else."""
    target = resolve_click(current_app.config["SECRET_KEY"], token)
    if target is None:
        abort(404)
    kind, item_id, link_id, url = target
    if _counts():
        record_hit(
            make_hit(
                "click", kind, item_id, link_id, request.user_agent.string, request.remote_addr
            )
        )
    response = redirect(url, code=302)
    response.headers.update(NO_CACHE)
    return response
