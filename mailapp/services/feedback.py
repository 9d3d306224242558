"""Feedback from receivers: bounces, complaints and mailto unsubscribes, and what they do.

Two ways in share one policy (`apply_feedback`): mail returned to our VERP or unsubscribe
address (`ingest_message`, from the MTA pipe, a Maildir/mbox or a polled mailbox) and ESP
event webhooks (services.esp). The policy: a hard bounce or a complaint suppresses the address
at once; soft bounces are counted and suppress after the project's `soft_bounce_limit` within
`soft_bounce_window_days` (repeated ones quarantine the contact first); an unsubscribe
suppresses; delays, auto-replies and unknown reports change nothing but are kept.
"""

from __future__ import annotations

import email.message
import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from mailapp.extensions import db
from mailapp.models import (
    Contact,
    Delivery,
    Event,
    EventType,
    InboundMessage,
    Message,
    Project,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from mailapp.services import bounces, webhooks
from mailapp.services.audit import Actor, record_audit
from mailapp.services.events import record_events
from mailapp.services.projects import DEFAULT_SETTINGS
from mailapp.services.suppression import normalize_address, suppress
from mailapp.services.tokens import BadToken
from mailapp.services.unsubscribe import find_subscriber, unsubscribe
from mailapp.services.urls import Kind, LinkSigner, read_single, read_verp

UNSUBSCRIBE_ADDRESS_RE = re.compile(r"^unsubscribe(?:\+(?P<token>[a-z0-9-]+))?@", re.IGNORECASE)
# A reply to the mailto address may carry the token in its subject or body instead.
UNSUBSCRIBE_TOKEN_RE = re.compile(
    r"(?:unsubscribe\+|/u/)(?P<token>[a-z0-9]+(?:-[a-z0-9]+)+)", re.IGNORECASE
)
UNSUBSCRIBE_SUBJECT_RE = re.compile(r"^\s*unsubscribe\s*$", re.IGNORECASE)
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")

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


@dataclass(frozen=True)
class Target:
    """The mail a report is about: a campaign delivery or a transactional message."""

    project_id: int
    address: str
    contact_id: int | None = None
    campaign_id: int | None = None
    delivery_id: int | None = None
    message_id: int | None = None


def target_for(kind: Kind, item_id: int) -> Target | None:
    """The delivery or message an id names (from a VERP or unsubscribe token)."""
    if kind == "delivery":
        row = db.session.execute(
            sa.select(Delivery.project_id, Contact.email, Delivery.contact_id, Delivery.campaign_id)
            .join(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.id == item_id)
        ).first()
        return row and Target(row[0], row[1], row[2], row[3], delivery_id=item_id)
    row = db.session.execute(
        sa.select(Message.project_id, Message.recipient, Message.contact_id).where(
            Message.id == item_id
        )
    ).first()
    return row and Target(row[0], row[1], row[2], message_id=item_id)


def find_target(
    *,
    project_id: int | None = None,
    provider_message_id: str | None = None,
    message_id_header: str | None = None,
    address: str | None = None,
) -> Target | None:
    """Find the mail a report names by provider id, Message-ID, then latest mail to the address.

    Without a project (a stray bounce), only the Message-ID may decide: an address alone
    could belong to several tenants.
    """
    scoped = [Delivery.project_id == project_id] if project_id else []
    scoped_msg = [Message.project_id == project_id] if project_id else []
    ids: list[tuple[Any, Any, Any]] = []
    if provider_message_id and project_id:
        ids.append((Delivery.provider_message_id, Message.provider_message_id, provider_message_id))
    if message_id_header:
        bare = message_id_header.strip().strip("<>")
        for value in (bare, f"<{bare}>"):
            ids.append((Delivery.message_id, Message.message_id, value))
    for delivery_column, message_column, value in ids:
        found = db.session.scalar(sa.select(Delivery.id).where(delivery_column == value, *scoped))
        if found:
            return target_for("delivery", found)
        found = db.session.scalar(sa.select(Message.id).where(message_column == value, *scoped_msg))
        if found:
            return target_for("message", found)
    if address and project_id:
        return _latest_to(project_id, address)
    return None


def _latest_to(project_id: int, address: str) -> Target | None:
    email = normalize_address(address)
    delivery = db.session.execute(
        sa.select(Delivery.id, Delivery.sent_at)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.project_id == project_id, Contact.email == email)
        .order_by(Delivery.sent_at.desc().nulls_last(), Delivery.id.desc())
        .limit(1)
    ).first()
    message = db.session.execute(
        sa.select(Message.id, Message.sent_at)
        .where(Message.project_id == project_id, sa.func.lower(Message.recipient) == email)
        .order_by(Message.sent_at.desc().nulls_last(), Message.id.desc())
        .limit(1)
    ).first()
    if delivery and message:
        never = datetime.min.replace(tzinfo=UTC)
        newer = (message.sent_at or never) > (delivery.sent_at or never)
        return target_for("message", message.id) if newer else target_for("delivery", delivery.id)
    if delivery or message:
        return (
            target_for("delivery", delivery.id) if delivery else target_for("message", message.id)
        )
    contact_id = db.session.scalar(
        sa.select(Contact.id).where(Contact.project_id == project_id, Contact.email == email)
    )
    return Target(project_id, email, contact_id) if contact_id else None


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
    if kind == bounces.SOFT:
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
        bounces.HARD: SuppressionReason.HARD_BOUNCE,
        bounces.COMPLAINT: SuppressionReason.COMPLAINT,
        "unsubscribe": SuppressionReason.UNSUBSCRIBE,
    }.get(kind)
    if reason is not None:
        suppress(
            target.project_id, target.address, reason, actor=actor, source=source, commit=False
        )
        outcome = f"suppressed ({reason.value})"
    return outcome


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
    settings = {**DEFAULT_SETTINGS, **(db.session.get(Project, target.project_id).settings or {})}
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


def ingest_message(
    raw: bytes, *, source: str, actor: Actor, envelope_recipient: str | None = None
) -> InboundMessage:
    """Keep one message returned to us, classify it, and apply the policy to its mail."""
    msg = bounces.parse_message(raw)
    secret = current_app.config["SECRET_KEY"]
    addresses = _recipient_addresses(msg, envelope_recipient)
    unsubscribe = _unsubscribe_target(secret, msg, addresses)
    if unsubscribe is not None:
        report = bounces.Report("unsubscribe")
        target: Target | None = unsubscribe
    else:
        report = bounces.parse_report(msg)
        target = _bounce_target(secret, report, addresses)
        if (
            report.classification == bounces.UNKNOWN
            and not report.recipients
            and UNSUBSCRIBE_SUBJECT_RE.match(str(msg.get("Subject", "")))
        ):
            # List-Unsubscribe: <mailto:bounces+<token>@...?subject=unsubscribe>
            report = bounces.Report("unsubscribe")
    failed = report.failed() or report.recipients
    first = failed[0] if failed else None
    inbound = InboundMessage(
        project_id=target.project_id if target else None,
        source=source,
        raw=raw,
        classification=report.classification,
        status_code=(first.status or "")[:16] or None if first else None,
        diagnostic=first.diagnostic if first else None,
        recipients=", ".join(r.address for r in report.recipients) or None,
        delivery_id=target.delivery_id if target else None,
    )
    db.session.add(inbound)
    db.session.flush()
    outcome = "kept"
    if target is not None and report.classification in EVENT_FOR:
        payload = {
            "source": source,
            "inbound_message_id": inbound.id,
            "status": first.status if first else None,
            "diagnostic": first.diagnostic if first else None,
            "reported_address": first.address if first else None,
        }
        if report.feedback:
            payload["feedback_type"] = report.feedback.get("feedback-type")
            payload["user_agent"] = report.feedback.get("user-agent")
        outcome = apply_feedback(
            target,
            report.classification,
            actor=actor,
            payload=payload,
            source=f"inbound:{inbound.id}",
        )
    record_audit(
        actor,
        "feedback.ingest",
        project_id=inbound.project_id,
        obj=inbound,
        context={"source": source, "classification": report.classification, "outcome": outcome},
    )
    db.session.commit()
    return inbound


def _recipient_addresses(msg: email.message.Message, envelope: str | None) -> list[str]:
    values = [envelope] if envelope else []
    for header in RECIPIENT_HEADERS:
        values.extend(str(v) for v in msg.get_all(header, []))
    return [address for _, address in email.utils.getaddresses(values) if address]


def _unsubscribe_target(
    secret: str, msg: email.message.Message, addresses: list[str]
) -> Target | None:
    matches = [m for a in addresses if (m := UNSUBSCRIBE_ADDRESS_RE.match(a))]
    if not matches:
        return None
    # The token in the address decides; one in the subject or body is the fallback for
    # clients that write to the bare unsubscribe@ address.
    tokens = [m["token"] for m in matches if m["token"]]
    text = f"{msg.get('Subject', '')}\n{bounces.body_text(msg)[:20000]}"
    tokens += [m["token"] for m in UNSUBSCRIBE_TOKEN_RE.finditer(text)]
    for token in tokens:
        for kind in ("delivery", "message"):
            try:
                item_id = read_single(secret, "unsubscribe", token, kind)
            except BadToken:
                continue
            return target_for(kind, item_id)
    return None


def _bounce_target(secret: str, report: bounces.Report, addresses: list[str]) -> Target | None:
    original = report.original
    candidates = list(addresses)
    if original is not None:
        candidates += [str(original.get("Return-Path", ""))]
    if report.feedback.get("original-mail-from"):
        candidates.append(report.feedback["original-mail-from"])
    for candidate in candidates:
        found = read_verp(secret, candidate.strip().strip("<>"))
        if found is not None:
            target = target_for(*found)
            if target is not None:
                return target
    if original is not None and original.get("Message-ID"):
        found = find_target(message_id_header=str(original["Message-ID"]))
        if found is not None:
            return found
    failed = report.failed() or report.recipients
    if len(failed) != 1:
        return None
    # An address alone decides only when a single project knows it.
    projects = db.session.scalars(
        sa.select(Contact.project_id)
        .where(Contact.email == normalize_address(failed[0].address))
        .limit(2)
    ).all()
    return (
        find_target(project_id=projects[0], address=failed[0].address)
        if len(projects) == 1
        else None
    )
