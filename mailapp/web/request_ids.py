"""Each request's id: the proxy's X-Request-ID when it is a plain short one, else a new one.

Every line logged while the request runs carries it (`runtime.logs`), and so does the
response's X-Request-ID header: a user reporting a failure, the proxy's access log and
ours name the same request.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from mailapp.runtime.logs import bind_ids, unbind_ids

HEADER = "X-Request-ID"
# What a proxy's id looks like (a UUID, Heroku's, nginx's $request_id); anything else could
# be a forged line break or a payload meant for whoever reads the logs.
_VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id() -> str:
    """The id of the current request."""
    return g.request_id


def _start() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _VALID.fullmatch(given) else uuid.uuid4().hex
    g.request_log_token = bind_ids(request_id=g.request_id)


def _answer(response: Response) -> Response:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def _end(exc: BaseException | None) -> None:
    token = g.pop("request_log_token", None)
    if token is not None:
        unbind_ids(token)  # with the project id bound since: a thread serves many requests


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_answer)
    app.teardown_request(_end)
