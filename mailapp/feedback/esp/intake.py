"""ESP event webhooks: verified, kept raw, deduplicated, normalized, then the feedback policy.

`receive(webhook, headers, body, form=...)` handles one POST to /webhooks/<provider>/<token>
(JSON, or the form fields of Mailgun's legacy webhooks). Each
provider's events become `EspEvent`s of delivered, bounce_hard, bounce_soft, complaint,
unsubscribe, open or click (None for what is only kept: deferrals, processing notices ...),
with the provider's own code and text kept. The provider's event id deduplicates, per
project (one tenant's ids never shadow another's).
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mailapp.access.audit import Actor, record_audit
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db, get_redis
from mailapp.feedback.esp.formats import (
    EspEvent,
    guarded,
    postmark_events,
    sendgrid_events,
    ses_events,
)
from mailapp.feedback.esp.mailgun import mailgun_events, mailgun_legacy_events
from mailapp.feedback.esp.signatures import (
    SNS_MAX_AGE_SECONDS,
    Rejected,
    check_replay,
    http_get,
    is_sns_url,
    mark_seen,
    now,
    parse_json,
    verify_mailgun,
    verify_postmark,
    verify_sendgrid,
    verify_sns,
)
from mailapp.feedback.mail_targets import find_target
from mailapp.feedback.policy import apply_feedback
from mailapp.models import EspProvider, InboundWebhook, ProviderEvent
from mailapp.models.base import utcnow

__all__ = ["Rejected", "create_inbound_webhook", "get_inbound_webhook", "receive"]

# What reads each provider's JSON payload into events.
READERS = {
    EspProvider.SES: ses_events,
    EspProvider.SENDGRID: sendgrid_events,
    EspProvider.MAILGUN: mailgun_events,
    EspProvider.POSTMARK: postmark_events,
}


def create_inbound_webhook(
    project_id: int, provider: EspProvider | str, *, secret: str | None, actor: Actor
) -> InboundWebhook:
    """A new endpoint for a provider, under an unguessable token."""
    provider = EspProvider(provider)
    if provider != EspProvider.SES and not secret:
        raise ServiceError(f"{provider.value} webhooks need the provider's key or secret")
    webhook = InboundWebhook(
        project_id=project_id, provider=provider, token=secrets.token_urlsafe(24), secret=secret
    )
    db.session.add(webhook)
    db.session.flush()
    record_audit(
        actor,
        "inbound_webhook.create",
        project_id=project_id,
        obj=webhook,
        context={"provider": provider.value},
    )
    db.session.commit()
    return webhook


def get_inbound_webhook(provider: str, token: str) -> InboundWebhook:
    webhook = db.session.scalar(
        sa.select(InboundWebhook).where(
            InboundWebhook.token == token, InboundWebhook.active.is_(True)
        )
    )
    if webhook is None or webhook.provider.value != provider:
        raise NotFound("no such webhook endpoint")
    return webhook


def receive(
    webhook: InboundWebhook,
    headers: dict[str, str],
    body: bytes,
    *,
    form: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Verify, store, deduplicate and apply one webhook request; Rejected when refused.

    `form` carries the fields of a form-encoded or multipart POST (Mailgun's legacy
    webhooks, the only provider that sends forms); `body` the raw body of any other.
    """
    client = get_redis()
    if form is not None and webhook.provider != EspProvider.MAILGUN:
        raise Rejected(415, f"{webhook.provider.value} webhooks are JSON")
    provider = webhook.provider
    replay_key: str | None = None
    replay_ttl = 1800
    if provider == EspProvider.SES:
        envelope = parse_json(body)
        if not isinstance(envelope, dict):
            raise Rejected(400, "not an SNS message")
        verify_sns(envelope, client, topic_arn=webhook.secret or None, now=now())
        replay_key = check_replay(client, "ses", str(envelope.get("MessageId")))
        replay_ttl = 2 * SNS_MAX_AGE_SECONDS
        if envelope.get("Type") in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
            return _confirm_subscription(webhook, envelope, client, replay_key, replay_ttl)
        if envelope.get("Type") != "Notification":
            raise Rejected(400, "unknown SNS message type")
        data: Any = envelope
    elif provider == EspProvider.SENDGRID:
        signature = verify_sendgrid(headers, body, webhook.secret or "", now())
        replay_key = check_replay(client, "sendgrid", signature)
        data = parse_json(body)
    elif provider == EspProvider.MAILGUN and form is not None:
        # Legacy webhooks: the signature's timestamp, token and HMAC are form fields.
        token = verify_mailgun(form, webhook.secret or "", now())
        replay_key = check_replay(client, "mailgun", token)
        data = form
    elif provider == EspProvider.MAILGUN:
        data = parse_json(body)
        if not isinstance(data, dict) or not isinstance(data.get("signature"), dict):
            raise Rejected(401, "unsigned Mailgun request")
        token = verify_mailgun(data["signature"], webhook.secret or "", now())
        replay_key = check_replay(client, "mailgun", token)
    else:
        verify_postmark(headers, webhook.secret or "")
        data = parse_json(body)
    read = mailgun_legacy_events if form is not None else READERS[provider]
    events = guarded(provider, read, data)
    counts = _apply(webhook, events)
    if replay_key:
        mark_seen(client, replay_key, replay_ttl)
    if events and not counts["new"]:
        raise Rejected(409, "every event in this request was already received")
    return counts


def _confirm_subscription(
    webhook: InboundWebhook, envelope: dict[str, Any], client: Any, replay_key: str, ttl: int
) -> dict[str, int]:
    url = str(envelope.get("SubscribeURL") or "")
    if envelope["Type"] == "SubscriptionConfirmation":
        if not is_sns_url(url):
            raise Rejected(403, "subscription confirmation URL is not an SNS host")
        try:
            http_get(url)
        except OSError as exc:
            raise Rejected(502, f"could not confirm the subscription: {exc}") from None
    record_audit(
        Actor.system(f"webhook:{webhook.provider.value}"),
        "inbound_webhook.sns_subscription",
        project_id=webhook.project_id,
        obj=webhook,
        context={"type": envelope["Type"], "topic": envelope.get("TopicArn")},
    )
    db.session.commit()
    mark_seen(client, replay_key, ttl)
    return {"received": 0, "new": 0, "applied": 0}


def _apply(webhook: InboundWebhook, events: list[EspEvent]) -> dict[str, int]:
    provider = webhook.provider
    ids = {e.event_id for e in events}
    seen = (
        set(
            db.session.scalars(
                sa.select(ProviderEvent.provider_event_id).where(
                    # Per project: another tenant's ids never make this one's a duplicate.
                    ProviderEvent.project_id == webhook.project_id,
                    ProviderEvent.provider == provider,
                    ProviderEvent.provider_event_id.in_(ids),
                )
            )
        )
        if ids
        else set()
    )
    actor = Actor.system(f"webhook:{provider.value}")
    new = applied = 0
    received_at = utcnow()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        new += 1
        db.session.add(
            ProviderEvent(
                project_id=webhook.project_id,
                provider=provider,
                provider_event_id=event.event_id[:255],
                received_at=received_at,
                raw=event.raw,
                normalized_type=event.kind,
            )
        )
        if event.kind is None:
            continue
        target = find_target(
            project_id=webhook.project_id,
            provider_message_id=event.provider_message_id,
            message_id_header=event.message_id_header,
            address=event.address,
        )
        if target is None:
            continue
        apply_feedback(
            target,
            event.kind,
            actor=actor,
            occurred_at=event.occurred_at or received_at,
            payload={
                "provider": provider.value,
                "provider_event_id": event.event_id,
                **event.payload,
            },
            source=f"{provider.value}:{event.event_id}"[:200],
        )
        applied += 1
    counts = {"received": len(events), "new": new, "applied": applied}
    if new:
        record_audit(
            actor,
            "inbound_webhook.receive",
            project_id=webhook.project_id,
            obj=webhook,
            context=counts,
        )
    try:
        db.session.commit()
    except IntegrityError:
        # The same events arrived concurrently on another request, which stored them.
        db.session.rollback()
        raise Rejected(409, "these events were received concurrently") from None
    return counts
