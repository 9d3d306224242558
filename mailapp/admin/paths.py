"""URL parts of custom admin pages."""

from __future__ import annotations

from flask import abort


def path_id(value: str) -> int:
    """A numeric id from the URL, else 404.

    Routes take ids as plain strings rather than `<int:...>` so that a malformed URL still
    passes the view's login and permission check (and its audit) before being refused.
    """
    if not value.isdigit():
        abort(404)
    return int(value)
