"""URL parts of custom admin pages."""

from __future__ import annotations

from flask import abort


def path_id(value: str) -> int:
    """A numeric id from the URL, else 404.

    Routes take ids as plain strings rather than `<int:...>` so that a malformed URL still
    passes the view's login and permission check (and its audit) before being refused.
    """
    # isascii: "²" is a digit to isdigit() but not to int(); 19 digits: what a BIGINT holds
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) >= 2**63:
        abort(404)
    return int(value)
