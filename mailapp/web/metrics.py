"""GET /metrics for Prometheus, and the request counts and latencies it reports.

Off (404, as if absent) until METRICS_TOKEN is set; then only a request carrying
`Authorization: Bearer <METRICS_TOKEN>` gets the metrics (401 otherwise), the token compared
in constant time. The answer names no address, URL or token: labels are outcomes, statuses,
endpoint names and ids.

Every request through Flask is counted by its endpoint name (the route, never the URL, so the
label set stays bounded) and status; the tracking pixel and click redirect are answered in
front of Flask (`web.tracking`) and counted as tracking hits instead.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, abort, current_app, g, request
from flask.typing import ResponseReturnValue

from mailapp.extensions import csrf, get_redis
from mailapp.insights.operations import OperationsCollector
from mailapp.runtime import metrics

bp = Blueprint("metrics", __name__)
# Any other method a client makes up is "other": a label must not take arbitrary values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@bp.get("/metrics")
@csrf.exempt
def scrape() -> ResponseReturnValue:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    scheme, _, credentials = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    ):
        return Response(
            "a valid bearer token is required\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain"},
        )
    body = metrics.exposition(
        current_app.config.get("PROMETHEUS_MULTIPROC_DIR"), [OperationsCollector(get_redis())]
    )
    return Response(
        body, 200, {"Content-Type": metrics.CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    )


@bp.before_app_request
def _start_timer() -> None:
    g.metrics_started = time.monotonic()


@bp.after_app_request
def _count_request(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        endpoint = request.endpoint or "unmatched"
        method = request.method if request.method in METHODS else "other"
        metrics.HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(endpoint).observe(time.monotonic() - started)
    return response
