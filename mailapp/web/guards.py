"""Request limits common to every route: body size, JSON shape, numbers in URLs.

- A body larger than MAX_CONTENT_LENGTH answers 413 before a view reads it; the import
  wizard's upload may be as large as IMPORT_MAX_BYTES.
- JSON bodies parse with `mailapp.safe_json` (no deep nesting, no huge integers, no NaN):
  one beyond those limits answers 400 naming the problem, even where a view reads the body
  with get_json(silent=True).
- `<int:...>` in a URL only matches ids a BIGINT column can hold, so `/x/10**30` is a 404.
- What still reaches the database out of range (a huge number in a query string) answers
  a 4xx instead of the OverflowError or DataError, with the session rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter

from mailapp import safe_json
from mailapp.extensions import db

log = logging.getLogger(__name__)
LARGE_UPLOADS = frozenset({"imports.index"})  # endpoints taking IMPORT_MAX_BYTES


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>`, matching only what fits a BIGINT column."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", safe_json.MAX_INT)
        super().__init__(map, *args, **kwargs)


class GuardedRequest(Request):
    """Flask's request, letting the CSV import upload be larger than other bodies."""

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        if self.endpoint in LARGE_UPLOADS and self.method == "POST":
            return current_app.config["IMPORT_MAX_BYTES"]
        return current_app.config["MAX_CONTENT_LENGTH"]

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise BadRequest(f"The body is not acceptable JSON: {e}")


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing with the limits of `mailapp.safe_json`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return safe_json.loads(s, **kwargs)
        except safe_json.JSONLimitError as exc:
            # Not a ValueError: get_json(silent=True) must not turn it into "no body".
            raise BadRequest(f"The body is not acceptable JSON: {exc}.") from None


def init_app(app: Flask) -> None:
    """Install the limits; before any route is added (the converter applies at add time)."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.request_class = GuardedRequest
    app.json = GuardedJSONProvider(app)
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(DataError, _out_of_range)


def _out_of_range(exc: Exception) -> ResponseReturnValue:
    # The request named a number the database cannot hold: nothing by that number exists.
    db.session.rollback()
    log.info("%s %s: out of range (%s)", request.method, request.path, type(exc).__name__)
    if request.method in ("GET", "HEAD"):
        error: Exception = NotFound("Nothing has that number.")
    else:
        error = BadRequest("A number in the request is out of range.")
    return current_app.handle_user_exception(error)
