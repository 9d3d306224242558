"""Each ESP's event shapes (Mailgun's in `mailgun`), normalized with the original code and text.

Kinds: delivered, bounce_hard, bounce_soft, complaint, unsubscribe, open, click; None for
events that are only kept (deferrals, processing, drops the provider made on its own).
Bounces are classified by reason with `bounces.classify` on the provider's status code and
text; the provider's own bounce type decides only when the code and text say nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailapp import safe_json
from mailapp.feedback.esp.signatures import Rejected
from mailapp.feedback.returns import bounces
from mailapp.models import EspProvider


@dataclass(frozen=True)
class EspEvent:
    """One provider event, normalized; `raw` is kept as received."""

    event_id: str
    kind: str | None
    raw: dict[str, Any]
    address: str | None = None
    occurred_at: datetime | None = None
    provider_message_id: str | None = None
    message_id_header: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def guarded(
    provider: EspProvider, read: Callable[[Any], list[EspEvent]], data: Any
) -> list[EspEvent]:
    """The events `read` finds in a provider's payload; Rejected(400) for a shape it cannot read."""
    try:
        return read(data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Rejected(400, f"unexpected {provider.value} payload: {exc!r}") from None


def sendgrid_events(events: list[dict[str, Any]]) -> list[EspEvent]:
    return [_sendgrid(e) for e in events]


def postmark_events(event: dict[str, Any]) -> list[EspEvent]:
    return [_postmark(event)]


def timestamp(value: Any) -> datetime | None:
    """Provider times: epoch seconds or ISO 8601."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float) or str(value).replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def by_reason(status: Any, text: Any, fallback: str) -> str:
    """Classify by the code and text; the provider's own verdict only when they say nothing.

    A provider's soft verdict (SES Transient, SendGrid "blocked") is never made hard: a false
    hard suppresses a real subscriber for good."""
    found = bounces.classify(str(status) if status else None, str(text or ""))
    if found == bounces.HARD and fallback == bounces.SOFT:
        return bounces.SOFT
    return fallback if found in (None, bounces.UNKNOWN) else found


def bounce_payload(status: Any, text: Any, **extra: Any) -> dict[str, Any]:
    """The provider's code and text as given, and the reason they name (`bounce_reason`)."""
    verdict = bounces.judge(str(status) if status else None, str(text or ""), "failed")
    return {
        "status": str(status) if status else None,
        "diagnostic": text,
        "bounce_reason": verdict.reason if verdict else None,
        **extra,
    }


# --- Amazon SES (SNS notification; the SES event is JSON in "Message") ---------------------

SES_BOUNCE_TYPES = {"Permanent": bounces.HARD, "Transient": bounces.SOFT}


def ses_events(envelope: dict[str, Any]) -> list[EspEvent]:
    message = safe_json.loads(envelope["Message"])
    kind = message.get("eventType") or message.get("notificationType")
    mail = message.get("mail", {})
    common = {
        "provider_message_id": mail.get("messageId"),
        "message_id_header": (mail.get("commonHeaders") or {}).get("messageId"),
    }
    base_id = str(envelope["MessageId"])
    events = []
    if kind == "Bounce":
        bounce = message["bounce"]
        fallback = SES_BOUNCE_TYPES.get(bounce.get("bounceType"), bounces.UNKNOWN)
        for r in bounce["bouncedRecipients"]:
            events.append(
                EspEvent(
                    f"{base_id}:{r['emailAddress']}",
                    by_reason(r.get("status"), r.get("diagnosticCode"), fallback),
                    envelope,
                    r["emailAddress"],
                    timestamp(bounce.get("timestamp")),
                    payload=bounce_payload(
                        r.get("status"),
                        r.get("diagnosticCode"),
                        bounce_type=bounce.get("bounceType"),
                        bounce_subtype=bounce.get("bounceSubType"),
                    ),
                    **common,
                )
            )
    elif kind == "Complaint":
        complaint = message["complaint"]
        for r in complaint["complainedRecipients"]:
            events.append(
                EspEvent(
                    f"{base_id}:{r['emailAddress']}",
                    bounces.COMPLAINT,
                    envelope,
                    r["emailAddress"],
                    timestamp(complaint.get("timestamp")),
                    payload={"feedback_type": complaint.get("complaintFeedbackType")},
                    **common,
                )
            )
    elif kind == "Delivery":
        delivery = message["delivery"]
        for address in delivery["recipients"]:
            events.append(
                EspEvent(
                    f"{base_id}:{address}",
                    "delivered",
                    envelope,
                    address,
                    timestamp(delivery.get("timestamp")),
                    payload={"smtp_response": delivery.get("smtpResponse")},
                    **common,
                )
            )
    elif kind in ("Open", "Click"):
        detail = message[kind.lower()]
        for address in mail.get("destination", [])[:1]:
            events.append(
                EspEvent(
                    f"{base_id}:{address}",
                    kind.lower(),
                    envelope,
                    address,
                    timestamp(detail.get("timestamp")),
                    payload={"url": detail.get("link"), "user_agent": detail.get("userAgent")},
                    **common,
                )
            )
    else:
        events.append(EspEvent(base_id, None, envelope))
    return events


# --- SendGrid (a JSON array of events) -------------------------------------------------------

SENDGRID_KINDS = {
    "delivered": "delivered",
    "spamreport": bounces.COMPLAINT,
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "open": "open",
    "click": "click",
}


def _sendgrid(event: dict[str, Any]) -> EspEvent:
    name = event["event"]
    kind = SENDGRID_KINDS.get(name)
    payload: dict[str, Any] = {}
    if name == "bounce":
        # "blocked" is a refusal for policy or reputation: about us, not the address.
        fallback = bounces.SOFT if event.get("type") == "blocked" else bounces.UNKNOWN
        kind = by_reason(event.get("status"), event.get("reason"), fallback)
        payload = bounce_payload(event.get("status"), event.get("reason"), type=event.get("type"))
    elif name == "click":
        payload = {"url": event.get("url"), "user_agent": event.get("useragent")}
    elif name == "open":
        payload = {"user_agent": event.get("useragent")}
    sg_message_id = str(event.get("sg_message_id") or "").split(".")[0] or None
    return EspEvent(
        str(event["sg_event_id"]),
        kind,
        event,
        event.get("email"),
        timestamp(event.get("timestamp")),
        provider_message_id=sg_message_id,
        message_id_header=event.get("smtp-id"),
        payload=payload,
    )


# --- Postmark (one event per request, RecordType) ----------------------------------------

POSTMARK_BOUNCES = {
    "HardBounce": bounces.HARD,
    "BadEmailAddress": bounces.HARD,
    "SoftBounce": bounces.SOFT,
    "Blocked": bounces.SOFT,
    "DnsError": bounces.SOFT,
    "SpamNotification": bounces.COMPLAINT,
    "Unsubscribe": "unsubscribe",
}
POSTMARK_KINDS = {"Delivery": "delivered", "Open": "open", "Click": "click"}


def _postmark(event: dict[str, Any]) -> EspEvent:
    record = event["RecordType"]
    address = event.get("Email") or event.get("Recipient")
    message_id = event.get("MessageID")
    when = (
        event.get("BouncedAt")
        or event.get("DeliveredAt")
        or event.get("ReceivedAt")
        or event.get("ChangedAt")
    )
    payload: dict[str, Any] = {}
    if record == "Bounce":
        kind: str | None = POSTMARK_BOUNCES.get(event.get("Type"))
        if kind in (bounces.HARD, bounces.SOFT):
            kind = by_reason(None, event.get("Details"), kind) if kind == bounces.SOFT else kind
        payload = bounce_payload(
            event.get("TypeCode"),
            event.get("Details"),
            type=event.get("Type"),
            description=event.get("Description"),
        )
        event_id = str(event["ID"])
    elif record == "SpamComplaint":
        kind = bounces.COMPLAINT
        event_id = str(event["ID"])
    elif record == "SubscriptionChange":
        kind = "unsubscribe" if event.get("SuppressSending") else None
        event_id = f"SubscriptionChange:{message_id}:{address}:{when}"
    else:
        kind = POSTMARK_KINDS.get(record)
        if record == "Click":
            payload = {"url": event.get("OriginalLink")}
        event_id = f"{record}:{message_id}:{address}:{when}"
    return EspEvent(
        event_id,
        kind,
        event,
        address,
        timestamp(when),
        provider_message_id=message_id,
        payload=payload,
    )
