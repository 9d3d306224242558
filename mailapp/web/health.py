"""GET /health: 200 when every part is up, 503 naming what is down."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from mailapp.extensions import csrf, get_redis
from mailapp.runtime.health import check_health

bp = Blueprint("health", __name__)


@bp.get("/health")
@csrf.exempt
def health() -> ResponseReturnValue:
    report = check_health(get_redis(), current_app.config["HEARTBEAT_MAX_AGE"])
    response = jsonify(report)
    response.status_code = 200 if not report["down"] else 503
    response.headers["Cache-Control"] = "no-store"
    return response
