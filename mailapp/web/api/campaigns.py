"""Campaign API: list, create, show with live progress, launch, pause, resume, cancel, stats."""

from __future__ import annotations

from datetime import datetime

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.access.validation import HHMM
from mailapp.delivery.campaigns import (
    campaign_progress,
    campaign_stats,
    campaigns_progress,
    cancel_campaign,
    create_campaign,
    get_campaign,
    list_campaigns,
    pause_campaign,
    resume_campaign,
)
from mailapp.delivery.drafts import delete_draft, duplicate_campaign, update_draft
from mailapp.delivery.launch import launch_campaign
from mailapp.errors import ServiceError
from mailapp.models import Campaign, CampaignStatus, DeliveryStatus, ScheduleMode
from mailapp.web.api import ERROR, bp, document, require

TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
PROGRESS_SCHEMA = {
    "type": "object",
    "description": "deliveries per status, and their total",
    "required": [*(s.value for s in DeliveryStatus), "total"],
    "additionalProperties": {"type": "integer"},
}
CAMPAIGN_FIELDS = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "status": {"type": "string", "enum": [s.value for s in CampaignStatus]},
    "schedule_mode": {"type": "string", "enum": [m.value for m in ScheduleMode]},
    "send_at": TIME_OR_NULL,
    "launched_at": TIME_OR_NULL,
    "finished_at": TIME_OR_NULL,
    "paused_reason": {"type": ["string", "null"]},
    "sender_id": {"type": ["integer", "null"]},
    "template_id": {"type": ["integer", "null"]},
    "lists": {"type": "array", "items": {"type": "integer"}},
    "segment_id": {"type": ["integer", "null"]},
    "include_quarantined": {"type": "boolean"},
    "local_send_time": {"type": ["string", "null"]},
    "track_opens": {"type": "boolean"},
    "track_clicks": {"type": "boolean"},
    "progress": PROGRESS_SCHEMA,
}
CAMPAIGN_SCHEMA = {
    "type": "object",
    "required": list(CAMPAIGN_FIELDS),
    "additionalProperties": False,
    "properties": CAMPAIGN_FIELDS,
}
PAGE_LIMIT = 200
CAMPAIGN_PAGE = {
    "type": "object",
    "required": ["data", "next_cursor"],
    "additionalProperties": False,
    "properties": {
        "data": {"type": "array", "items": CAMPAIGN_SCHEMA},
        "next_cursor": {
            "type": ["integer", "null"],
            "description": "pass as `after` for the next page; null on the last page",
        },
    },
}
DRAFT_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "sender_id": {"type": "integer"},
    "template_id": {"type": "integer"},
    "lists": {"type": "array", "items": {"type": "integer"}},
    "segment_id": {
        "type": ["integer", "null"],
        "description": "send only to the lists' members in this segment",
    },
    "include_quarantined": {"type": "boolean"},
    "schedule_mode": {"type": "string", "enum": [m.value for m in ScheduleMode]},
    "send_at": {"type": ["string", "null"], "format": "date-time"},
    "local_send_time": {
        "type": ["string", "null"],
        "pattern": HHMM.pattern,
        "description": "HH:MM in each contact's time zone (schedule_mode local_time)",
    },
    "send_window": {"type": ["object", "null"]},
    "track_opens": {"type": "boolean"},
    "track_clicks": {"type": "boolean"},
    "utm": {"type": "object"},
    "ab_test": {"type": ["object", "null"]},
    "guardrails": {"type": "object"},
    "variants": {"type": "array", "items": {"type": "object"}},
}
CREATE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "sender_id", "template_id", "lists"],
    "properties": DRAFT_FIELDS,
}
UPDATE_SCHEMA = {"type": "object", "additionalProperties": False, "properties": DRAFT_FIELDS}
PASSED_THROUGH = ("name", "sender_id", "template_id", "local_send_time", "send_window")
PASSED_THROUGH += ("track_opens", "track_clicks", "utm", "ab_test", "guardrails", "variants")


def campaign_json(campaign: Campaign, progress: dict[str, int] | None = None) -> dict:
    """A campaign as the API shows it; `progress` given when a listing counted its page at once."""
    if progress is None:
        progress = campaign_progress(campaign.project_id, campaign.id)
    audience = campaign.audience or {}
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status.value,
        "schedule_mode": campaign.schedule_mode.value,
        "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
        "launched_at": campaign.launched_at.isoformat() if campaign.launched_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "paused_reason": campaign.paused_reason,
        "sender_id": campaign.sender_id,
        "template_id": campaign.template_id,
        "lists": audience.get("lists") or [],
        "segment_id": audience.get("segment_id"),
        "include_quarantined": bool(audience.get("include_quarantined")),
        "local_send_time": campaign.local_send_time,
        "track_opens": campaign.track_opens,
        "track_clicks": campaign.track_clicks,
        "progress": progress,
    }


AUDIENCE_KEYS = ("lists", "segment_id", "include_quarantined")


def _fields(body: dict, audience: dict | None = None) -> dict:
    """The service's fields from a request body; `audience` is the draft's, changed in part."""
    fields = {k: body[k] for k in PASSED_THROUGH if k in body}
    if audience is None or any(k in body for k in AUDIENCE_KEYS):
        current = dict(audience or {})
        current.update({k: body[k] for k in AUDIENCE_KEYS if k in body})
        current.setdefault("lists", [])
        current["include_quarantined"] = bool(current.get("include_quarantined"))
        fields["audience"] = current
    if "schedule_mode" in body:
        try:
            fields["schedule_mode"] = ScheduleMode(body["schedule_mode"])
        except ValueError:
            raise ServiceError("schedule_mode: now, at or local_time") from None
    if "send_at" in body and body["send_at"] is None:
        fields["send_at"] = None
    if body.get("send_at"):
        try:
            fields["send_at"] = datetime.fromisoformat(body["send_at"])
        except (TypeError, ValueError):
            raise ServiceError("send_at: an ISO 8601 time with its offset") from None
        if fields["send_at"].tzinfo is None:
            raise ServiceError("send_at: give the time zone offset")
    return fields


@bp.post("/campaigns")
@document(
    "Create a draft campaign",
    request=CREATE_SCHEMA,
    responses={201: CAMPAIGN_SCHEMA},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_WRITE)
def campaigns_create() -> tuple[Response, int]:
    campaign = create_campaign(g.project, actor=g.actor, **_fields(g.body))
    return jsonify(campaign_json(campaign)), 201


@bp.patch("/campaigns/<int:campaign_id>")
@document(
    "Change a draft",
    description="Only the keys sent change (lists, segment_id and include_quarantined change "
    "the audience key by key); null clears an optional one. Drafts only; audited.",
    request=UPDATE_SCHEMA,
    responses={200: CAMPAIGN_SCHEMA, 404: ERROR, 422: ERROR},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_WRITE)
def campaigns_update(campaign_id: int) -> Response:
    audience = get_campaign(g.project.id, campaign_id).audience or {}
    fields = _fields(g.body, audience)
    return jsonify(campaign_json(update_draft(g.project, campaign_id, actor=g.actor, **fields)))


@bp.post("/campaigns/<int:campaign_id>/duplicate")
@document(
    "Copy a campaign into a new draft (content, audience, sender; no schedule)",
    responses={201: CAMPAIGN_SCHEMA, 404: ERROR},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_WRITE)
def campaigns_duplicate(campaign_id: int) -> tuple[Response, int]:
    return jsonify(campaign_json(duplicate_campaign(g.project, campaign_id, actor=g.actor))), 201


@bp.delete("/campaigns/<int:campaign_id>")
@document(
    "Delete a draft (a launched campaign stays, with its history)",
    responses={204: None, 404: ERROR, 422: ERROR},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_WRITE)
def campaigns_delete(campaign_id: int) -> tuple[str, int]:
    delete_draft(g.project, campaign_id, actor=g.actor)
    return "", 204


@bp.get("/campaigns")
@document(
    "List campaigns, newest first, a page at a time",
    description="Each with its progress (deliveries per status), counted for the whole page "
    "in one query. Pass the answer's next_cursor as `after` for the next page.",
    parameters=[
        {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "cursor"},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT, "default": 50},
        },
        {"name": "status", "in": "query", "schema": CAMPAIGN_SCHEMA["properties"]["status"]},
    ],
    responses={200: CAMPAIGN_PAGE},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_WRITE)
def campaigns_list() -> Response:
    limit = g.query.get("limit", 50)
    status = g.query.get("status")
    page = list_campaigns(
        g.project.id,
        before_id=g.query.get("after"),
        limit=limit,
        status=CampaignStatus(status) if status else None,
    )
    progress = campaigns_progress(g.project.id, [c.id for c in page])
    return jsonify(
        {
            "data": [campaign_json(c, progress[c.id]) for c in page],
            "next_cursor": page[-1].id if len(page) == limit else None,
        }
    )


@bp.get("/campaigns/<int:campaign_id>")
@document("A campaign with its live progress", responses={200: CAMPAIGN_SCHEMA}, tags=["campaigns"])
@require(Permission.CAMPAIGNS_WRITE)
def campaigns_show(campaign_id: int) -> Response:
    return jsonify(campaign_json(get_campaign(g.project.id, campaign_id)))


@bp.get("/campaigns/<int:campaign_id>/stats")
@document(
    "Deliveries per status and events per type",
    responses={200: {"type": "object"}},
    tags=["campaigns"],
)
@require(Permission.ANALYTICS_READ)
def campaigns_stats(campaign_id: int) -> Response:
    get_campaign(g.project.id, campaign_id)
    return jsonify(campaign_stats(g.project.id, campaign_id))


@bp.post("/campaigns/<int:campaign_id>/launch")
@document(
    "Run pre-flight, freeze the campaign and schedule it",
    responses={200: CAMPAIGN_SCHEMA},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_SEND)
def campaigns_launch(campaign_id: int) -> Response:
    return jsonify(campaign_json(launch_campaign(g.project, campaign_id, actor=g.actor)))


@bp.post("/campaigns/<int:campaign_id>/pause")
@document(
    "Pause sending (effective within one in-flight group)",
    responses={200: CAMPAIGN_SCHEMA},
    tags=["campaigns"],
)
@require(Permission.CAMPAIGNS_SEND)
def campaigns_pause(campaign_id: int) -> Response:
    return jsonify(campaign_json(pause_campaign(g.project, campaign_id, actor=g.actor)))


@bp.post("/campaigns/<int:campaign_id>/resume")
@document("Resume a paused campaign", responses={200: CAMPAIGN_SCHEMA}, tags=["campaigns"])
@require(Permission.CAMPAIGNS_SEND)
def campaigns_resume(campaign_id: int) -> Response:
    return jsonify(campaign_json(resume_campaign(g.project, campaign_id, actor=g.actor)))


@bp.post("/campaigns/<int:campaign_id>/cancel")
@document("Cancel: nothing more is sent", responses={200: CAMPAIGN_SCHEMA}, tags=["campaigns"])
@require(Permission.CAMPAIGNS_SEND)
def campaigns_cancel(campaign_id: int) -> Response:
    return jsonify(campaign_json(cancel_campaign(g.project, campaign_id, actor=g.actor)))
