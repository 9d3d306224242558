"""Alerts API: the alerts raised for the project, and which ones the owners get."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.alerts.raising import recent_alerts
from mailapp.alerts.settings import DEFAULTS, HELP, RANGES, alert_settings, update_alert_settings
from mailapp.models import Alert, AlertKind, AlertMailState
from mailapp.web.api import bp, document, require

PAGE_LIMIT = 100
KINDS = {"type": "string", "enum": [k.value for k in AlertKind]}
SETTINGS_FIELDS: dict[str, Any] = {
    "enabled": {"type": "array", "items": KINDS, "description": "the alerts the owners get"},
    **{
        key: {
            "type": "integer" if whole else "number",
            "minimum": low,
            "maximum": high,
            "description": HELP[key],
        }
        for key, (low, high, whole) in RANGES.items()
    },
    "recipients": {
        "type": "array",
        "items": {"type": "string", "format": "email"},
        "maxItems": 20,
        "description": HELP["recipients"],
    },
}
SETTINGS_IN = {"type": "object", "additionalProperties": False, "properties": SETTINGS_FIELDS}
SETTINGS_OUT = {**SETTINGS_IN, "required": list(DEFAULTS)}
ALERT_OUT = {
    "type": "object",
    "required": ["id", "kind", "subject", "text", "link", "mail_state", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "kind": KINDS,
        "subject": {"type": "string", "description": "what the alert is about"},
        "text": {"type": "string"},
        "link": {"type": "string", "description": "the back-office page to act on"},
        "mail_state": {"type": "string", "enum": [s.value for s in AlertMailState]},
        "mail_detail": {"type": ["string", "null"]},
        "mailed_at": {"type": ["string", "null"], "format": "date-time"},
        "webhooks_queued": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
PAGE = {
    "type": "object",
    "required": ["data", "next_cursor"],
    "properties": {
        "data": {"type": "array", "items": ALERT_OUT},
        "next_cursor": {
            "type": ["integer", "null"],
            "description": "pass as `before` for older alerts; null when there are none",
        },
    },
}


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "subject": alert.subject,
        "text": alert.text,
        "link": alert.link,
        "mail_state": alert.mail_state.value,
        "mail_detail": alert.mail_detail,
        "mailed_at": alert.mailed_at.isoformat() if alert.mailed_at else None,
        "webhooks_queued": alert.webhooks_queued,
        "created_at": alert.created_at.isoformat(),
    }


@bp.get("/alerts")
@document(
    "The alerts raised for the project, newest first",
    parameters=[
        {"name": "before", "in": "query", "schema": {"type": "integer"}, "description": "cursor"},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT},
        },
    ],
    responses={200: PAGE},
    tags=["alerts"],
)
@require(Permission.ANALYTICS_READ)
def alerts_list() -> Response:
    limit = g.query.get("limit", 50)
    page = recent_alerts(g.project.id, limit=limit, before_id=g.query.get("before"))
    return jsonify(
        {
            "data": [alert_json(a) for a in page],
            "next_cursor": page[-1].id if len(page) == limit else None,
        }
    )


@bp.get("/alerts/settings")
@document("Which alerts the owners get", responses={200: SETTINGS_OUT}, tags=["alerts"])
@require(Permission.ALERTS_MANAGE)
def alert_settings_show() -> Response:
    return jsonify(alert_settings(g.project))


@bp.patch("/alerts/settings")
@document(
    "Change which alerts the owners get, their thresholds and extra recipients",
    description="Only the keys sent change. Audited, each alert turned on or off by name.",
    request=SETTINGS_IN,
    responses={200: SETTINGS_OUT},
    tags=["alerts"],
)
@require(Permission.ALERTS_MANAGE)
def alert_settings_update() -> Response:
    update_alert_settings(g.project, g.body, actor=g.actor)
    return jsonify(alert_settings(g.project))
