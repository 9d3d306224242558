"""ESP event webhooks: POST /webhooks/<provider>/<endpoint token> (CSRF-exempt, signed)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from mailapp.extensions import csrf
from mailapp.services import NotFound
from mailapp.services.esp import Rejected, get_inbound_webhook, receive

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024


@bp.post("/<provider>/<token>")
@csrf.exempt
def esp_event(provider: str, token: str) -> ResponseReturnValue:
    try:
        webhook = get_inbound_webhook(provider, token)
    except NotFound:
        return jsonify(error="not_found"), 404
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error="too_large"), 413
    try:
        counts = receive(webhook, dict(request.headers), request.get_data(cache=False))
    except Rejected as exc:
        log.info("%s webhook %s refused: %s", provider, webhook.id, exc.reason)
        return jsonify(error=exc.reason), exc.status
    return jsonify(counts), 200
