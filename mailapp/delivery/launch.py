"""Launching a campaign: the pre-flight checklist, then a frozen snapshot of content,
sender, audience and links, and `draft -> scheduled`."""

from __future__ import annotations

from datetime import datetime

from mailapp.access.audit import Actor, record_audit
from mailapp.content.rendering import RenderError, compile_content
from mailapp.delivery.campaigns import (
    AB_VARIANT_KEYS,
    get_campaign,
    move,
    request_dispatch,
    validate_campaign,
)
from mailapp.delivery.checklist import Check
from mailapp.delivery.preflight import content_checks
from mailapp.delivery.recipients import count_audience, sample_recipient
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Link,
    Project,
    ScheduleMode,
    Sender,
    Template,
    TemplateVersion,
    VersionStatus,
)
from mailapp.models.base import utcnow


class AlreadyLaunched(ServiceError):
    """Launch asked for a campaign that is no longer a draft (a second click, Back)."""


def _variant_versions(campaign: Campaign) -> list[tuple[str, TemplateVersion, str | None]]:
    """(key, content version, subject override) of each variant to send."""
    template = db.session.get(Template, campaign.template_id) if campaign.template_id else None
    published = template.published_version if template else None
    if not campaign.ab_test:
        if template is None:
            raise ServiceError("Choose a template (what the mail says)")
        if published is None:
            raise ServiceError(
                f"the template “{template.name}” has no published version: "
                "publish one under Content → Templates"
            )
        return [("A", published, None)]
    variants = campaign.variants
    if not 2 <= len(variants) <= len(AB_VARIANT_KEYS):
        raise ServiceError("an A/B test needs 2 to 4 variants")
    result = []
    for variant in variants:
        version = (
            db.session.get(TemplateVersion, variant.template_version_id)
            if variant.template_version_id
            else published
        )
        if version is None or version.project_id != campaign.project_id:
            raise ServiceError(f"variant {variant.key} has no content")
        if version.status != VersionStatus.PUBLISHED:
            raise ServiceError(f"variant {variant.key}: only published content can be sent")
        result.append((variant.key, version, variant.subject))
    return result


def preflight(
    project: Project, campaign: Campaign, *, now: datetime | None = None, count: bool = True
) -> list[Check]:
    """The launch checklist: content and sender checks of every variant, then the audience
    and the schedule. The subject is measured as the audience's first contact reads it.

    A check that failed and blocks stops the launch; one that failed but does not only warns.
    count=False checks only that the audience has somebody (its first contact, a read that
    stops at one row) instead of counting it: the launch itself needs no more, and a count
    of a million contacts does not belong in the request that launches.
    """
    sender = db.session.get(Sender, campaign.sender_id) if campaign.sender_id else None
    audience = campaign.audience or {}
    contact = sample_recipient(project.id, audience)
    checks: list[Check] = []
    try:
        variants = _variant_versions(campaign)
    except ServiceError as exc:
        checks.append(Check("content", False, True, str(exc)))
        variants = []
    for key, version, subject in variants:
        prefix = f"variant {key}: " if campaign.ab_test else ""
        try:
            found = content_checks(version, sender, project, subject, contact)
        except RenderError as exc:
            found = [Check("content", False, True, str(exc))]
        checks += [Check(c.name, c.ok, c.blocking, prefix + c.message) for c in found]
    if not variants and sender is None:
        checks.append(Check("sender", False, True, "Choose a sender (who the mail comes from)"))
    checks.append(_audience_check(project, audience, None if count else contact is not None))
    checks.append(_schedule_check(campaign, now or utcnow()))
    return checks


def _audience_check(project: Project, audience: dict, somebody: bool | None = None) -> Check:
    """somebody: whether the audience has a first contact, known already (None: count it)."""
    chosen = (
        audience.get("lists")
        or audience.get("segment_id") is not None
        or audience.get("campaign_non_openers") is not None
    )
    if not chosen:
        return Check("audience", False, True, "Choose who receives it: a list or a segment")
    size = count_audience(project.id, audience) if somebody is None else int(somebody)
    if not size:
        return Check(
            "audience",
            False,
            True,
            "the audience is empty: nobody in it can receive mail "
            "(after unsubscribes, bounces, suppression and quarantine)",
        )
    if somebody is not None:
        return Check("audience", True, True, "somebody can receive it after suppression")
    return Check("audience", True, True, f"{size:,} people after suppression and quarantine")


def _schedule_check(campaign: Campaign, now: datetime) -> Check:
    if campaign.schedule_mode == ScheduleMode.AT:
        if campaign.send_at is None:
            return Check("schedule", False, True, "Choose the date and time to send")
        if campaign.send_at < now:
            return Check(
                "schedule", False, False, "the send time has passed: it goes out right away"
            )
        return Check("schedule", True, True, "sends at the chosen date and time")
    if campaign.schedule_mode == ScheduleMode.LOCAL_TIME:
        if not campaign.local_send_time:
            return Check("schedule", False, True, "Choose the time of day to send")
        return Check(
            "schedule", True, True, f"sends at {campaign.local_send_time} in each contact's zone"
        )
    return Check("schedule", True, True, "sends as soon as you launch")


def blocking_failures(checks: list[Check]) -> list[Check]:
    """The failed checks that stop a launch."""
    return [c for c in checks if c.blocking and not c.ok]


def _freeze_links(campaign: Campaign, versions: list[TemplateVersion]) -> list[str]:
    """Store the literal links of every variant and locale as the campaign's Link rows
    (as written: the UTM rule is applied where a link is followed); returns them in
    position order."""
    urls: list[str] = []
    for version in versions:
        for locale in (None, *(version.locale_variants or {})):
            for url in compile_content(version, locale).links:
                if url not in urls:
                    urls.append(url)
    for position, url in enumerate(urls):
        db.session.add(
            Link(
                project_id=campaign.project_id,
                campaign_id=campaign.id,
                position=position,
                url=url,
            )
        )
    return urls


def freeze_snapshot(
    campaign: Campaign, sender: Sender, chosen: list[tuple[str, TemplateVersion, str | None]]
) -> dict:
    """What the send step reads instead of the live rows: variants, links (stored as the
    campaign's Link rows, so flush the campaign first), sender and audience."""
    return {
        "variants": [
            {"key": key, "version_id": version.id, "subject": subject}
            for key, version, subject in chosen
        ],
        "links": _freeze_links(campaign, [version for _key, version, _subject in chosen]),
        "sender": {
            "id": sender.id,
            "from_name": sender.from_name,
            "from_email": sender.from_email,
            "reply_to": sender.reply_to,
            "domain": sender.domain,
            "bounce_domain": sender.bounce_domain or sender.domain,
            "dkim_selector": sender.dkim_selector,
        },
        "audience": dict(campaign.audience or {}),
    }


def launch_campaign(
    project: Project,
    campaign_id: int,
    *,
    actor: Actor,
    confirmed_recipients: int | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Run pre-flight, freeze the snapshot and links, and schedule the campaign.

    `confirmed_recipients` is the audience size the person saw and confirmed. The audience
    is not counted here (at a million contacts that takes seconds): preparation, moments
    later, compares who it prepared with this number and pauses the campaign before anything
    is sent when they differ (`pipeline.prepare_deliveries`)."""
    now = now or utcnow()
    campaign = get_campaign(project.id, campaign_id, lock=True)
    if campaign.status != CampaignStatus.DRAFT:
        raise AlreadyLaunched(
            f"“{campaign.name}” was already launched (it is {campaign.status}); "
            "nothing was sent again"
        )
    validate_campaign(project, campaign)
    blockers = blocking_failures(preflight(project, campaign, now=now, count=False))
    if blockers:
        raise ServiceError("pre-flight failed: " + "; ".join(c.message for c in blockers))
    sender = db.session.get(Sender, campaign.sender_id)
    chosen = _variant_versions(campaign)
    campaign.snapshot = freeze_snapshot(campaign, sender, chosen) | {
        "confirmed_recipients": confirmed_recipients,
        "prepared_at": None,
    }
    campaign.launched_at = now
    move(campaign, CampaignStatus.SCHEDULED)
    record_audit(
        actor,
        "campaign.launch",
        project_id=project.id,
        obj=campaign,
        context={
            "variants": [key for key, _v, _s in chosen],
            "mode": str(campaign.schedule_mode),
            "confirmed_recipients": confirmed_recipients,
        },
    )
    db.session.commit()
    request_dispatch()  # its deliveries are prepared now, not at the next tick
    return campaign
