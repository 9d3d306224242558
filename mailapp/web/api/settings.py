"""Settings API: the project's sending rules, a sender's warm-up plan, a campaign's guardrails.

The same services (and the same validation) as the back-office pages; a wrong field answers
422 with `error.fields` naming each field and what is wrong, and nothing is saved.
"""

from __future__ import annotations

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.access.project_settings import (
    SETTING_HELP,
    sending_settings,
    update_sending_settings,
)
from mailapp.access.projects import MAX_ADDRESS_CHARS, update_project
from mailapp.access.validation import HHMM
from mailapp.delivery.campaigns import get_campaign
from mailapp.delivery.guardrail_settings import GUARDRAIL_HELP, guardrail_values, set_guardrails
from mailapp.delivery.senders import WARMUP_HELP, get_sender, set_warmup_plan
from mailapp.models import Project
from mailapp.models.bounce_reason import DEFAULT_BOUNCE_ACTIONS, BounceAction
from mailapp.web.api import bp, document, require

HHMM_SCHEMA = {"type": "string", "pattern": HHMM.pattern, "description": "HH:MM, 24 hours"}
NULLABLE_INT = {"type": ["integer", "null"], "minimum": 1}
SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "tracking": {"type": "string", "enum": ["full", "anonymous", "off"]},
        "quiet_hours": {
            "type": ["object", "null"],
            "required": ["start", "end"],
            "properties": {"start": HHMM_SCHEMA, "end": HHMM_SCHEMA},
        },
        "frequency_cap_7d": NULLABLE_INT,
        "quota_messages_per_day": NULLABLE_INT,
        "quota_import_rows_per_day": NULLABLE_INT,
        "soft_bounce_limit": {"type": "integer", "minimum": 1, "maximum": 50},
        "soft_bounce_window_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "retry_hours": {"type": ["integer", "null"], "minimum": 1, "maximum": 720},
        "event_retention_days": {"type": "integer", "minimum": 30, "maximum": 3650},
        "allow_self_approval": {"type": "boolean"},
        "bounce_actions": {
            "type": "object",
            "properties": {
                reason: {"type": "string", "enum": [a.value for a in BounceAction]}
                for reason in DEFAULT_BOUNCE_ACTIONS
            },
        },
    },
}
for _key, _schema in SETTINGS_SCHEMA["properties"].items():
    _schema["description"] = SETTING_HELP[_key]
WARMUP_SCHEMA = {
    "type": "object",
    "description": WARMUP_HELP,
    "properties": {
        "start": {"type": ["string", "null"], "format": "date"},
        "daily_caps": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    },
}
GUARDRAILS_SCHEMA = {
    "type": "object",
    "properties": {
        "canary_percent": {"type": ["number", "null"], "minimum": 1, "maximum": 50},
        "canary_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
        "max_bounce_percent": {"type": ["number", "null"], "minimum": 0.01, "maximum": 50},
        "max_complaint_percent": {"type": ["number", "null"], "minimum": 0.01, "maximum": 50},
        "min_sample": {"type": "integer", "minimum": 10},
    },
}
for _key, _schema in GUARDRAILS_SCHEMA["properties"].items():
    _schema["description"] = GUARDRAIL_HELP[_key]
INVALID = {"$ref": "#/components/schemas/Error"}


PROJECT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "timezone": {"type": "string", "description": "IANA name: the default for contacts"},
        "postal_address": {
            "type": ["string", "null"],
            "maxLength": MAX_ADDRESS_CHARS,
            "description": "shown in every marketing message's footer (CAN-SPAM, GDPR): "
            "pre-flight blocks a campaign without it",
        },
    },
}
PROJECT_OUT = {
    **PROJECT_SCHEMA,
    "required": ["id", "slug", "name", "timezone", "postal_address"],
    "properties": {
        "id": {"type": "integer"},
        "slug": {"type": "string"},
        **PROJECT_SCHEMA["properties"],
        "sending_stopped_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def project_json(project: Project) -> dict:
    stopped = project.sending_stopped_at
    return {
        "id": project.id,
        "slug": project.slug,
        "name": project.name,
        "timezone": project.timezone,
        "postal_address": project.postal_address,
        "sending_stopped_at": stopped.isoformat() if stopped else None,
    }


@bp.get("/projects/current")
@document("The key's project", responses={200: PROJECT_OUT}, tags=["settings"])
@require(Permission.PROJECTS_MANAGE)
def project_show() -> Response:
    return jsonify(project_json(g.project))


@bp.patch("/projects/current")
@document(
    "Change the project's name, time zone or postal address",
    description="Only the keys sent change. Audited.",
    request=PROJECT_SCHEMA,
    responses={200: PROJECT_OUT},
    tags=["settings"],
)
@require(Permission.PROJECTS_MANAGE)
def project_update() -> Response:
    return jsonify(project_json(update_project(g.project, g.body, actor=g.actor)))


@bp.get("/projects/settings")
@document("The project's sending rules", responses={200: SETTINGS_SCHEMA}, tags=["settings"])
@require(Permission.PROJECTS_MANAGE)
def settings_show() -> Response:
    return jsonify(sending_settings(g.project))


@bp.patch("/projects/settings")
@document(
    "Change some sending rules",
    description="Only the keys sent change; null clears an optional rule. One wrong field "
    "refuses the whole change (422, with error.fields). Every change is audited.",
    request=SETTINGS_SCHEMA,
    responses={200: SETTINGS_SCHEMA, 422: INVALID},
    tags=["settings"],
)
@require(Permission.PROJECTS_MANAGE)
def settings_update() -> Response:
    body = g.body
    update_sending_settings(g.project, body, actor=g.actor)
    return jsonify(sending_settings(g.project))


@bp.get("/senders/<int:sender_id>/warmup")
@document("A sender's warm-up plan", responses={200: WARMUP_SCHEMA}, tags=["senders"])
@require(Permission.SENDERS_MANAGE)
def warmup_show(sender_id: int) -> Response:
    return jsonify(get_sender(g.project, sender_id).warmup_plan or {})


@bp.put("/senders/<int:sender_id>/warmup")
@document(
    "Replace a sender's warm-up plan",
    description="Empty daily_caps end the warm-up.",
    request=WARMUP_SCHEMA,
    responses={200: WARMUP_SCHEMA, 422: INVALID},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def warmup_update(sender_id: int) -> Response:
    body = g.body
    sender = set_warmup_plan(
        g.project,
        sender_id,  # looked up in the project by set_warmup_plan
        start=body.get("start"),
        daily_caps=body.get("daily_caps") or [],
        actor=g.actor,
    )
    return jsonify(sender.warmup_plan or {})


@bp.get("/campaigns/<int:campaign_id>/guardrails")
@document("A campaign's guardrails", responses={200: GUARDRAILS_SCHEMA}, tags=["campaigns"])
@require(Permission.CAMPAIGNS_WRITE)
def guardrails_show(campaign_id: int) -> Response:
    return jsonify(guardrail_values(get_campaign(g.project.id, campaign_id)))


@bp.patch("/campaigns/<int:campaign_id>/guardrails")
@document(
    "Change a campaign's guardrails (in percent)",
    description="The canary can change until sending starts; the pause thresholds until "
    "the campaign ends. Every change is audited.",
    request=GUARDRAILS_SCHEMA,
    responses={200: GUARDRAILS_SCHEMA, 422: INVALID},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_WRITE)
def guardrails_update(campaign_id: int) -> Response:
    body = g.body
    set_guardrails(g.project, campaign_id, body, actor=g.actor)
    return jsonify(guardrail_values(get_campaign(g.project.id, campaign_id)))
