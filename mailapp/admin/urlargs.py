"""URL arguments of custom admin pages.

Routes take ids as strings and answer GET even when they change things, so the view's
permission check and the login redirect run first for every URL, whatever it holds (the
permission-matrix tests walk the URL map this way); a bad id is then a 404 and a GET on a
change a 405.
"""

from __future__ import annotations

from flask import abort, request


def url_id(value: str) -> int:
    """A URL's id; anything else is a 404."""
    if not value.isdigit():
        abort(404)
    return int(value)


def post_only() -> None:
    """Changes are POST only (and CSRF-checked)."""
    if request.method != "POST":
        abort(405)
