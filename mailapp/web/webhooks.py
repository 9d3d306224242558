"""ESP event webhooks: POST /webhooks/<provider>/<endpoint token> (CSRF-exempt, signed)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from mailapp.errors import NotFound
from mailapp.extensions import csrf
from mailapp.feedback.esp.intake import Rejected, get_inbound_webhook, receive

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024
# Mailgun's legacy webhooks post forms (multipart when the bounce has attachments).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@bp.post("/<provider>/<token>")
@csrf.exempt
def esp_event(provider: str, token: str) -> ResponseReturnValue:
    try:
        webhook = get_inbound_webhook(provider, token)
    except NotFound:
        return jsonify(error="not_found"), 404
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error="too_large"), 413
    form: dict[str, Any] | None = None
    if request.mimetype in FORM_TYPES:
        form = request.form.to_dict(flat=True)
        if request.files:
            # Kept as what arrived, not as content: the attachments are the bounce mail.
            form["attachments"] = [
                {"field": field, "filename": f.filename, "content_type": f.mimetype}
                for field, f in request.files.items(multi=True)
            ]
    try:
        body = b"" if form is not None else request.get_data(cache=False)
        counts = receive(webhook, dict(request.headers), body, form=form)
    except Rejected as exc:
        log.info("%s webhook %s refused: %s", provider, webhook.id, exc.reason)
        return jsonify(error=exc.reason), exc.status
    return jsonify(counts), 200
