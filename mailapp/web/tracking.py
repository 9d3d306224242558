"""Open pixel and click redirect: answer fast, spool the hit, never redirect elsewhere.

These two URLs take more requests than the rest of the application together, and each
answer is a fixed image or a redirect that needs no session, login, CSRF check or template.
So they are served by a small WSGI middleware in front of Flask (as Werkzeug's
SharedDataMiddleware serves static files), installed when this blueprint is registered.
A click token that is not genuine goes on to Flask, which has no such route: its 404
page, with no Location.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from flask import Blueprint, Flask
from flask.blueprints import BlueprintSetupState

from mailapp.feedback.tracking.click_targets import resolve_click
from mailapp.feedback.tracking.hits import (
    PIXEL_GIF,
    hit_line,
    hit_spool,
    read_open_token,
    spool_hit,
)
from mailapp.runtime import metrics

bp = Blueprint("tracking", __name__)

OPEN_PREFIX, CLICK_PREFIX = "/t/o/", "/t/c/"
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
_PIXEL_HEADERS = [
    ("Content-Type", "image/gif"),
    ("Content-Length", str(len(PIXEL_GIF))),
    *NO_CACHE.items(),
]
_FOUND = "302 Found"


class TrackingMiddleware:
    """Answers GET and HEAD of /t/o/ and genuine /t/c/ URLs; passes everything else on."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.spool = hit_spool(app)

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            if path.startswith(OPEN_PREFIX):
                return self.open_pixel(environ, start_response, path[len(OPEN_PREFIX) :])
            if path.startswith(CLICK_PREFIX):
                answer = self.click(environ, start_response, path[len(CLICK_PREFIX) :])
                if answer is not None:
                    return answer
        return self.wsgi_app(environ, start_response)

    def open_pixel(self, environ: dict, start_response: Any, token: str) -> Iterable[bytes]:
        """The pixel for any token; only a genuine one records an open."""
        target = read_open_token(self.app.config["SECRET_KEY"], token)
        # HEAD is what link checkers and some proxies send; only a real fetch is an event.
        counts = environ["REQUEST_METHOD"] == "GET"
        if target is not None and counts:
            self._record(environ, "open", *target, None)
        start_response("200 OK", list(_PIXEL_HEADERS))
        return [PIXEL_GIF] if counts else []

    def click(self, environ: dict, start_response: Any, token: str) -> Iterable[bytes] | None:
        """302 to the campaign's own stored link; None (Flask's 404) for anything else."""
        with self.app.app_context():  # a cache miss reads the database
            target = resolve_click(self.app.config["SECRET_KEY"], token)
        if target is None:
            return None
        kind, item_id, link_id, url = target
        counts = environ["REQUEST_METHOD"] == "GET"
        if counts:
            self._record(environ, "click", kind, item_id, link_id)
        body = (
            f'<!doctype html>\n<title>Redirecting...</title>\n<a href="{escape(url)}">'
            f"{escape(url)}</a>\n"
        ).encode()
        start_response(
            _FOUND,
            [
                ("Location", url),
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                *NO_CACHE.items(),
            ],
        )
        return [body] if counts else []

    def _record(
        self, environ: dict, event: Any, kind: Any, item_id: int, link_id: int | None
    ) -> None:
        line = hit_line(
            event,
            kind,
            item_id,
            link_id,
            environ.get("HTTP_USER_AGENT", ""),
            environ.get("REMOTE_ADDR"),
        )
        spool_hit(self.spool, line)
        metrics.TRACKING_HITS.labels(event).inc()


@bp.record_once
def _serve_in_front(state: BlueprintSetupState) -> None:
    state.app.wsgi_app = TrackingMiddleware(state.app, state.app.wsgi_app)
