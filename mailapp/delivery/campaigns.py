"""Campaigns: the status machine, launch (pre-flight + frozen snapshot), pause, resume,
cancel, progress and the project's emergency stop."""

from __future__ import annotations

import logging
from datetime import datetime

import redis
import sqlalchemy as sa

from mailapp import tasks
from mailapp.access.audit import Actor, record_audit
from mailapp.audience.segments.store import get_segment
from mailapp.content.jinja_checks import check_source
from mailapp.content.submission import TemplateRefused
from mailapp.content.utm import check_utm_rule
from mailapp.delivery.guardrail_settings import check_stored_guardrails
from mailapp.delivery.windows import SendWindow, parse_hhmm
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    CampaignVariant,
    Delivery,
    DeliveryStatus,
    Event,
    List,
    Project,
    ScheduleMode,
    Sender,
    Template,
)
from mailapp.models.base import utcnow

log = logging.getLogger(__name__)

# The actor of what the pipeline does by itself (prepare, finish, auto-pause, bounces).
PIPELINE = Actor.system("pipeline")
S = CampaignStatus
# The one place that says which status may follow which (DESIGN §3).
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SENDING, S.PAUSED, S.CANCELLED}),
    S.SENDING: frozenset({S.PAUSED, S.SENT, S.CANCELLED}),
    S.PAUSED: frozenset({S.SENDING, S.SCHEDULED, S.CANCELLED}),
    # Only the deliberate resend of `unknown` rows reopens a sent campaign.
    S.SENT: frozenset({S.SENDING}),
    S.CANCELLED: frozenset(),
}
ACTIVE = (S.SCHEDULED, S.SENDING)
OPEN_DELIVERIES = (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED)
AB_VARIANT_KEYS = ("A", "B", "C", "D")
EDITABLE_FIELDS = (
    "name",
    "sender_id",
    "template_id",
    "audience",
    "schedule_mode",
    "send_at",
    "local_send_time",
    "send_window",
    "track_opens",
    "track_clicks",
    "utm",
    "ab_test",
    "guardrails",
)


def move(campaign: Campaign, to: CampaignStatus) -> None:
    """Change the status, refusing any transition the machine does not allow."""
    if to not in TRANSITIONS[campaign.status]:
        raise ServiceError(f"a {campaign.status} campaign cannot become {to}")
    campaign.status = to


def get_campaign(project_id: int, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = sa.select(Campaign).where(Campaign.project_id == project_id, Campaign.id == campaign_id)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    campaign = db.session.scalar(query)
    if campaign is None:
        raise NotFound("no such campaign")
    return campaign


def create_campaign(project: Project, *, actor: Actor, **fields: object) -> Campaign:
    """Create a draft campaign; `variants` takes [{"key", "subject", "template_version_id"}]."""
    variants = fields.pop("variants", None) or []
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ServiceError(f"unknown campaign fields: {', '.join(sorted(unknown))}")
    campaign = Campaign(project_id=project.id, created_by_id=actor.user_id, **fields)
    validate_campaign(project, campaign)
    _check_variant_subjects(variants)
    for variant in variants:
        campaign.variants.append(CampaignVariant(project_id=project.id, **variant))
    db.session.add(campaign)
    db.session.flush()
    record_audit(actor, "campaign.create", project_id=project.id, obj=campaign)
    db.session.commit()
    return campaign


def _check_variant_subjects(variants: list[dict]) -> None:
    """A variant's subject is Jinja like a template's: refused here, with line and reason."""
    problems = [
        problem
        for variant in variants
        if variant.get("subject")
        for problem in check_source(
            variant["subject"], html=False, part=f"variant {variant.get('key')} subject"
        )
    ]
    if problems:
        raise TemplateRefused(problems)


def validate_campaign(project: Project, campaign: Campaign) -> None:
    """Refuse settings that cannot work: foreign rows, missing times, a bad window or test."""
    if not (campaign.name or "").strip():
        raise ServiceError("a campaign needs a name")
    utm_problems = check_utm_rule(campaign.utm)
    if utm_problems:
        raise TemplateRefused(utm_problems)
    check_stored_guardrails(campaign.guardrails)
    for model, object_id, label in (
        (Sender, campaign.sender_id, "sender"),
        (Template, campaign.template_id, "template"),
    ):
        if object_id is not None and not db.session.scalar(
            sa.select(model.id).where(model.project_id == project.id, model.id == object_id)
        ):
            raise ServiceError(f"no such {label} in this project")
    list_ids = (campaign.audience or {}).get("lists") or []
    found = db.session.scalar(
        sa.select(sa.func.count(List.id)).where(
            List.project_id == project.id, List.id.in_(list_ids)
        )
    )
    if found != len(set(list_ids)):
        raise ServiceError("the audience names a list that is not in this project")
    if (campaign.audience or {}).get("segment_id") is not None:
        get_segment(project.id, campaign.audience["segment_id"])
    source = (campaign.audience or {}).get("campaign_non_openers")
    if source is not None:
        get_campaign(project.id, int(source))
    if campaign.schedule_mode == ScheduleMode.AT and campaign.send_at is None:
        raise ServiceError("scheduling at a time needs that time")
    if campaign.schedule_mode == ScheduleMode.LOCAL_TIME:
        parse_hhmm(campaign.local_send_time or "")
    if campaign.send_window:
        SendWindow.from_dict(campaign.send_window, project.timezone)
    ab = campaign.ab_test or {}
    if ab and not 0 < float(ab.get("test_share", 0)) < 1:
        raise ServiceError("A/B test share must be between 0 and 1")
    if ab and ab.get("metric", "clicks") not in ("clicks", "opens"):
        raise ServiceError("A/B winner is chosen by clicks or opens")


def pause_campaign(
    project: Project, campaign_id: int, *, actor: Actor, reason: str = "paused by a person"
) -> Campaign:
    """Stop dispatching; rows already claimed finish their group, the rest wait."""
    campaign = get_campaign(project.id, campaign_id, lock=True)
    move(campaign, S.PAUSED)  # (refuses a campaign that is paused already)
    hold(campaign, reason, actor=actor)
    db.session.commit()
    return campaign


def hold(campaign: Campaign, reason: str, *, actor: Actor, **context: object) -> None:
    """Pause the campaign for `reason` and audit it, in the caller's transaction; a campaign
    paused already gets the newer reason."""
    if campaign.status != S.PAUSED:
        move(campaign, S.PAUSED)
    campaign.paused_reason = reason[:200]
    record_audit(
        actor,
        "campaign.pause",
        project_id=campaign.project_id,
        obj=campaign,
        context={"reason": reason, **context},
    )


def resume_campaign(project: Project, campaign_id: int, *, actor: Actor) -> Campaign:
    """Carry on where the campaign stopped; its waiting rows are dispatched again."""
    campaign = get_campaign(project.id, campaign_id, lock=True)
    if campaign.status != S.PAUSED:
        raise ServiceError(f"only a paused campaign can resume; this one is {campaign.status}")
    move(campaign, S.SENDING if campaign.snapshot.get("prepared_at") else S.SCHEDULED)
    campaign.paused_reason = None
    # Batches dispatched before the pause were dropped by the send step: dispatch anew.
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status.in_(OPEN_DELIVERIES))
        .values(claimed_at=None)
    )
    record_audit(actor, "campaign.resume", project_id=project.id, obj=campaign)
    db.session.commit()
    request_dispatch()
    return campaign


def request_dispatch() -> None:
    """A dispatch tick now, not at the scheduler's next one: a launched or resumed campaign
    starts at once. Ticks may overlap (each row is handed out once); without Redis the
    scheduler's tick still comes."""
    try:
        tasks.dispatch()
    except redis.RedisError as exc:
        log.warning("dispatch not requested now, the scheduler's next tick runs it: %s", exc)


def cancel_campaign(
    project: Project, campaign_id: int, *, actor: Actor, now: datetime | None = None
) -> Campaign:
    """Cancel for good: waiting rows end `failed` with reason `cancelled`, never sent."""
    campaign = get_campaign(project.id, campaign_id, lock=True)
    move(campaign, S.CANCELLED)
    campaign.finished_at = now or utcnow()
    unsent = fail_cancelled_rows(campaign.id)
    record_audit(
        actor,
        "campaign.cancel",
        project_id=project.id,
        obj=campaign,
        context={"unsent": unsent},
    )
    db.session.commit()
    return campaign


def fail_cancelled_rows(campaign_id: int) -> int:
    """Waiting rows of a cancelled campaign end `failed` with reason `cancelled`.

    Cancel runs it, and so does every send batch when it ends: rows a worker held while
    the campaign was cancelled come back queued or deferred (rate limit, transient reply)
    and must not stay waiting for a campaign that will never send them. Not committed.
    """
    cancelled = (
        sa.select(Campaign.id)
        .where(Campaign.id == campaign_id, Campaign.status == S.CANCELLED)
        .exists()
    )
    result = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_(OPEN_DELIVERIES),
            cancelled,
        )
        .values(status=DeliveryStatus.FAILED, reason="cancelled")
    )
    return result.rowcount


def campaign_progress(project_id: int, campaign_id: int) -> dict[str, int]:
    """Deliveries per status (all statuses present, zeros included), in one grouped query."""
    return campaigns_progress(project_id, [campaign_id])[campaign_id]


def campaigns_progress(project_id: int, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """`campaign_progress` of several campaigns in one grouped query (a page of a listing)."""
    progress = {cid: {status.value: 0 for status in DeliveryStatus} for cid in campaign_ids}
    if campaign_ids:
        rows = db.session.execute(
            sa.select(Delivery.campaign_id, Delivery.status, sa.func.count())
            .where(Delivery.project_id == project_id, Delivery.campaign_id.in_(campaign_ids))
            .group_by(Delivery.campaign_id, Delivery.status)
        )
        for campaign_id, status, count in rows:
            progress[campaign_id][DeliveryStatus(status).value] = count
    for counts in progress.values():
        counts["total"] = sum(counts.values())
    return progress


def list_campaigns(
    project_id: int,
    *,
    before_id: int | None = None,
    limit: int = 50,
    status: CampaignStatus | None = None,
) -> list[Campaign]:
    """A page of the project's campaigns, newest first (keyset: pass the last id seen)."""
    query = sa.select(Campaign).where(Campaign.project_id == project_id)
    if before_id is not None:
        query = query.where(Campaign.id < before_id)
    if status is not None:
        query = query.where(Campaign.status == status)
    query = query.order_by(Campaign.id.desc()).limit(min(max(limit, 1), 200))
    return list(db.session.scalars(query))


def resend_unknown(project: Project, campaign_id: int, *, actor: Actor) -> int:
    """Queue the `unknown` rows again: a person decided a possible duplicate is acceptable."""
    campaign = get_campaign(project.id, campaign_id, lock=True)
    if campaign.status == S.CANCELLED:
        raise ServiceError("a cancelled campaign sends nothing more")
    result = db.session.execute(
        sa.update(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status == DeliveryStatus.UNKNOWN)
        .values(status=DeliveryStatus.QUEUED, claimed_at=None, scheduled_at=utcnow())
    )
    if campaign.status == S.SENT and result.rowcount:
        move(campaign, S.SENDING)
        campaign.finished_at = None
    record_audit(
        actor,
        "campaign.resend_unknown",
        project_id=project.id,
        obj=campaign,
        context={"rows": result.rowcount},
    )
    db.session.commit()
    return result.rowcount


def stop_all_sending(project: Project, *, actor: Actor, now: datetime | None = None) -> int:
    """Emergency stop: nothing of this project is dispatched; running campaigns pause."""
    project.sending_stopped_at = now or utcnow()
    running = db.session.scalars(
        sa.select(Campaign).where(Campaign.project_id == project.id, Campaign.status.in_(ACTIVE))
    ).all()
    for campaign in running:
        move(campaign, S.PAUSED)
        campaign.paused_reason = "emergency stop"
    record_audit(
        actor,
        "project.stop_sending",
        project_id=project.id,
        obj=project,
        context={"paused": [c.id for c in running]},
    )
    db.session.commit()
    return len(running)


def allow_sending(project: Project, *, actor: Actor) -> None:
    """Lift the emergency stop (paused campaigns stay paused until resumed one by one)."""
    project.sending_stopped_at = None
    record_audit(actor, "project.allow_sending", project_id=project.id, obj=project)
    db.session.commit()


def campaign_stats(project_id: int, campaign_id: int) -> dict[str, dict[str, int]]:
    """Deliveries per status and events per type (human and machine apart)."""
    events: dict[str, int] = {}
    rows = db.session.execute(
        sa.select(Event.type, Event.is_machine, sa.func.count())
        .where(Event.project_id == project_id, Event.campaign_id == campaign_id)
        .group_by(Event.type, Event.is_machine)
    )
    for kind, machine, count in rows:
        events[f"{kind}{' (machine)' if machine else ''}"] = count
    return {"deliveries": campaign_progress(project_id, campaign_id), "events": events}
