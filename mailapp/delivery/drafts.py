"""Drafts: editing a draft step by step, duplicating a campaign, and a resend to the
people who did not open an earlier one. Each change is validated and audited."""

from __future__ import annotations

from mailapp.access.audit import Actor, record_audit
from mailapp.access.records import changed_fields
from mailapp.delivery.campaigns import EDITABLE_FIELDS, get_campaign, validate_campaign
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, CampaignVariant, Project, ScheduleMode

# What a copy takes from its original; the schedule is cleared, the status is draft.
COPIED_FIELDS = tuple(
    f for f in EDITABLE_FIELDS if f not in ("name", "schedule_mode", "send_at", "local_send_time")
)
# Only a campaign that has sent mail has recipients to resend to.
SENT_STATUSES = (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT)


def update_draft(project: Project, campaign_id: int, *, actor: Actor, **fields: object) -> Campaign:
    """Change some settings of a draft; refused (nothing saved) when invalid or launched."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ServiceError(f"unknown campaign fields: {', '.join(sorted(unknown))}")
    campaign = get_campaign(project.id, campaign_id, lock=True)
    if campaign.status != CampaignStatus.DRAFT:
        raise ServiceError("Only draft campaigns can be edited.")
    for name, value in fields.items():
        setattr(campaign, name, value)
    changed = changed_fields(campaign)  # before validation's queries flush the changes
    try:
        validate_campaign(project, campaign)
    except ServiceError:
        db.session.rollback()
        raise
    if changed:
        record_audit(
            actor,
            "campaign.update",
            project_id=project.id,
            obj=campaign,
            context={"changed": changed},
        )
    db.session.commit()
    return campaign


def delete_draft(project: Project, campaign_id: int, *, actor: Actor) -> None:
    """Delete a campaign that was never launched; one that was keeps its history."""
    campaign = get_campaign(project.id, campaign_id, lock=True)
    if campaign.status != CampaignStatus.DRAFT:
        raise ServiceError(f"only a draft can be deleted; this campaign is {campaign.status}")
    record_audit(
        actor,
        "campaign.delete",
        project_id=project.id,
        obj=campaign,
        context={"name": campaign.name},
    )
    db.session.delete(campaign)
    db.session.commit()


def _copy(project: Project, source: Campaign, name: str, actor: Actor) -> Campaign:
    copy = Campaign(
        project_id=project.id,
        name=name[:200],
        status=CampaignStatus.DRAFT,
        schedule_mode=ScheduleMode.NOW,
        created_by_id=actor.user_id,
        **{f: _copied(getattr(source, f)) for f in COPIED_FIELDS},
    )
    for variant in source.variants:
        copy.variants.append(
            CampaignVariant(
                project_id=project.id,
                key=variant.key,
                subject=variant.subject,
                template_version_id=variant.template_version_id,
            )
        )
    db.session.add(copy)
    return copy


def _copied(value: object) -> object:
    return dict(value) if isinstance(value, dict) else value


def duplicate_campaign(project: Project, campaign_id: int, *, actor: Actor) -> Campaign:
    """A new draft with the same content, audience and sender; its schedule is cleared."""
    source = get_campaign(project.id, campaign_id)
    copy = _copy(project, source, f"Copy of {source.name}", actor)
    db.session.flush()
    record_audit(
        actor,
        "campaign.duplicate",
        project_id=project.id,
        obj=copy,
        context={"source_campaign_id": source.id},
    )
    db.session.commit()
    return copy


def resend_to_non_openers(project: Project, campaign_id: int, *, actor: Actor) -> Campaign:
    """A new draft to the sent campaign's recipients who did not open it (nobody else)."""
    source = get_campaign(project.id, campaign_id)
    if source.status not in SENT_STATUSES:
        raise ServiceError("only a campaign that has sent mail can be resent to non-openers")
    copy = _copy(project, source, f"{source.name} (resend to non-openers)", actor)
    copy.audience = {
        "campaign_non_openers": source.id,
        "include_quarantined": bool((source.audience or {}).get("include_quarantined")),
    }
    db.session.flush()
    record_audit(
        actor,
        "campaign.resend_non_openers",
        project_id=project.id,
        obj=copy,
        context={"source_campaign_id": source.id},
    )
    db.session.commit()
    return copy
