"""What feedback from receivers does: the one policy for bounces, complaints, unsubscribes.

Returned mail (feedback.inbound) and ESP event webhooks (feedback.esp.intake) both end here. A
complaint suppresses the address at once; a bounce does what the project's rule for its reason
(`bounce_actions`) says: suppress at once (by default: the address does not exist), count it
(soft bounces suppress after the project's `soft_bounce_limit` within `soft_bounce_window_days`,
repeated ones quarantine the contact first) or only record it (blocks, spam filters, throttling:
the sender's problem, not the address's); an unsubscribe goes through the unsubscribe service; every
event is recorded through the event writer and published to outbound webhooks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from mailapp.access.audit import Actor
from mailapp.access.projects import DEFAULT_SETTINGS
from mailapp.audience.suppression import suppress
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.feedback.mail_targets import Target
from mailapp.feedback.returns import bounces
from mailapp.feedback.unsubscribe import find_subscriber, unsubscribe
from mailapp.integrations import webhooks
from mailapp.models import Contact, Event, EventType, Project, SuppressionReason
from mailapp.models.base import utcnow
from mailapp.models.bounce_reason import (
    DEFAULT_BOUNCE_ACTIONS,
    HARD_REASONS,
    BounceAction,
    BounceReason,
)
from mailapp.urls import Kind, LinkSigner

EVENT_FOR = {
    bounces.HARD: EventType.BOUNCE_HARD,
    bounces.SOFT: EventType.BOUNCE_SOFT,
    bounces.COMPLAINT: EventType.COMPLAINT,
    bounces.UNKNOWN: EventType.UNKNOWN,
    "unsubscribe": EventType.UNSUBSCRIBE,
    "delivered": EventType.DELIVERED,
    "open": EventType.OPEN,
    "click": EventType.CLICK,
}


def apply_feedback(
    target: Target,
    kind: str,
    *,
    actor: Actor,
    occurred_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    source: str,
) -> str:
    """Record the event and apply the policy; returns what was done.

    Commits only for an unsubscribe of a known delivery or message, which goes through
    the unsubscribe service (lists, consent ledger, suppression and event in one go).
    """
    occurred_at = occurred_at or utcnow()
    if kind in webhooks.EVENT_TYPES:
        webhooks.publish_event(
            target.project_id,
            kind,
            {
                "email": target.address,
                "occurred_at": occurred_at.isoformat(),
                "contact_id": target.contact_id,
                "campaign_id": target.campaign_id,
                "delivery_id": target.delivery_id,
                "message_id": target.message_id,
                "details": payload or {},
            },
        )
    if kind == "unsubscribe" and (target.delivery_id or target.message_id):
        return _unsubscribe(target, source=source, actor=actor)
    event_type = EVENT_FOR.get(kind)
    outcome = "recorded"
    action = None
    if kind in (bounces.HARD, bounces.SOFT):
        settings = project_settings(target.project_id)
        action = bounce_action(settings, kind, (payload or {}).get("bounce_reason"))
    if action == BounceAction.COUNT:
        outcome = _count_soft_bounce(target, occurred_at, actor=actor, source=source)
    if event_type is not None:
        record_events(
            [
                {
                    "project_id": target.project_id,
                    "type": event_type.value,
                    "occurred_at": occurred_at,
                    "campaign_id": target.campaign_id,
                    "contact_id": target.contact_id,
                    "delivery_id": target.delivery_id,
                    "message_id": target.message_id,
                    "link_id": None,
                    "is_machine": False,
                    "payload": payload or {},
                }
            ],
            commit=False,
        )
    reason = {
        bounces.COMPLAINT: SuppressionReason.COMPLAINT,
        "unsubscribe": SuppressionReason.UNSUBSCRIBE,
    }.get(kind)
    note = None
    if action == BounceAction.SUPPRESS:
        reason = (
            SuppressionReason.HARD_BOUNCE if kind == bounces.HARD else SuppressionReason.SOFT_BOUNCE
        )
        bounce_reason = (payload or {}).get("bounce_reason")
        note = f"bounce reason {bounce_reason}: suppress at once" if bounce_reason else None
    if reason is not None:
        suppress(
            target.project_id,
            target.address,
            reason,
            actor=actor,
            source=source,
            note=note,
            commit=False,
        )
        outcome = f"suppressed ({reason.value})"
    return outcome


def project_settings(project_id: int) -> dict[str, Any]:
    """The project's settings over the defaults."""
    project = db.session.get(Project, project_id)
    return {**DEFAULT_SETTINGS, **((project.settings if project else None) or {})}


def bounce_action(settings: dict[str, Any], kind: str, reason: str | None) -> BounceAction:
    """What the project's rules make a bounce of this reason do to its address.

    A hard bounce whose reason is not known (an ESP's verdict on a reply that says nothing,
    events from before reasons) suppresses as hard bounces always did; a soft one follows
    the rule for "other". A soft verdict never suppresses for a hard reason (an ESP's
    "blocked" event quoting "user unknown" is still a block).
    """
    unsure = not reason or reason == BounceReason.OTHER
    if kind == bounces.HARD and unsure:
        return BounceAction.SUPPRESS
    if unsure or (kind == bounces.SOFT and reason in HARD_REASONS):
        reason = BounceReason.OTHER
    rules = {**DEFAULT_BOUNCE_ACTIONS, **(settings.get("bounce_actions") or {})}
    try:
        return BounceAction(rules.get(str(reason), BounceAction.COUNT))
    except ValueError:
        return BounceAction.COUNT


def _unsubscribe(target: Target, *, source: str, actor: Actor) -> str:
    secret = current_app.config["SECRET_KEY"]
    kind: Kind = "delivery" if target.delivery_id else "message"
    item_id = target.delivery_id or target.message_id or 0
    # The unsubscribe service reads the same signed token the List-Unsubscribe URL carries.
    token = LinkSigner(secret, "", kind).unsubscribe_url(item_id).rsplit("/", 1)[1]
    subscriber = find_subscriber(secret, token)
    if subscriber is None:
        return "recorded"
    changed = unsubscribe(subscriber, method=source.split(":", 1)[0][:32], actor=actor)
    return "unsubscribed" if changed else "already unsubscribed"


def _count_soft_bounce(target: Target, occurred_at: datetime, *, actor: Actor, source: str) -> str:
    """Count a soft bounce; repeated ones quarantine, the project's limit suppresses."""
    if target.contact_id is None:
        return "recorded"
    settings = project_settings(target.project_id)
    limit = int(settings["soft_bounce_limit"])
    since = occurred_at - timedelta(days=int(settings["soft_bounce_window_days"]))
    earlier = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(
            Event.project_id == target.project_id,
            Event.contact_id == target.contact_id,
            Event.type == EventType.BOUNCE_SOFT,
            Event.occurred_at >= since,
        )
    )
    in_window = earlier + 1
    changes: dict[str, Any] = {"soft_bounces": Contact.soft_bounces + 1}
    if in_window >= 2:
        changes["quarantined"] = True
    db.session.execute(
        sa.update(Contact)
        .where(Contact.id == target.contact_id, Contact.project_id == target.project_id)
        .values(**changes)
    )
    if in_window >= limit:
        suppress(
            target.project_id,
            target.address,
            SuppressionReason.SOFT_BOUNCE,
            actor=actor,
            source=source,
            note=f"{in_window} soft bounces within {settings['soft_bounce_window_days']} days",
            commit=False,
        )
        return "suppressed (soft_bounce)"
    return "quarantined" if in_window >= 2 else "counted"
