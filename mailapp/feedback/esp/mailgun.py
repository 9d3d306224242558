"""Mailgun's events, in both formats its webhooks post, normalized like every ESP's.

The current webhooks post JSON (`signature` and `event-data`); the deprecated ones, still
sent to URLs configured the old way, post form fields (urlencoded, or multipart when a bounce
carries attachments). Both are signed the same way (signatures.verify_mailgun).
"""

from __future__ import annotations

from typing import Any

from mailapp import safe_json
from mailapp.feedback.esp.formats import EspEvent, bounce_payload, by_reason, timestamp
from mailapp.feedback.esp.signatures import Rejected
from mailapp.feedback.returns import bounces


def mailgun_events(data: dict[str, Any]) -> list[EspEvent]:
    """The one event of a JSON webhook POST."""
    return [_mailgun(data["event-data"])]


# --- The current format: JSON, "event-data" of one event, "signature" beside it ----------

MAILGUN_KINDS = {
    "delivered": "delivered",
    "complained": bounces.COMPLAINT,
    "unsubscribed": "unsubscribe",
    "opened": "open",
    "clicked": "click",
}


def _mailgun(event: dict[str, Any]) -> EspEvent:
    name = event["event"]
    kind = MAILGUN_KINDS.get(name)
    payload: dict[str, Any] = {}
    if name == "failed":
        status = event.get("delivery-status") or {}
        code = status.get("enhanced-code") or status.get("code")
        text = status.get("message") or status.get("description") or event.get("reason")
        payload = bounce_payload(
            code, text, severity=event.get("severity"), reason=event.get("reason")
        )
        # A temporary failure is a retry Mailgun will make: a delay, not a bounce.
        kind = (
            None if event.get("severity") == "temporary" else by_reason(code, text, bounces.UNKNOWN)
        )
    elif name == "clicked":
        payload = {"url": event.get("url")}
    headers = (event.get("message") or {}).get("headers") or {}
    return EspEvent(
        str(event["id"]),
        kind,
        event,
        event.get("recipient"),
        timestamp(event.get("timestamp")),
        message_id_header=headers.get("message-id"),
        payload=payload,
    )


# --- Legacy webhooks (form fields, one event per request) -----------------------------------
# The deprecated webhook format, still sent to URLs configured the old way: event, recipient,
# domain, message-headers (a JSON list of [name, value]), code/error/notification (bounced),
# reason/code/description (dropped), url (clicked), Message-Id (delivered), and the
# timestamp/token/signature fields. No event id: the token, random and signed, is one per
# request and names the event (Mailgun docs, "Webhooks (deprecated)").

MAILGUN_LEGACY_KINDS = {
    "delivered": "delivered",
    "complained": bounces.COMPLAINT,
    "unsubscribed": "unsubscribe",
    "opened": "open",
    "clicked": "click",
}


def mailgun_legacy_events(form: dict[str, Any]) -> list[EspEvent]:
    """The one event of a legacy Mailgun webhook POST."""
    name = str(form.get("event") or "")
    token = str(form.get("token") or "")
    if not name or not token:
        raise Rejected(400, "unexpected mailgun payload: no event or token")
    kind = MAILGUN_LEGACY_KINDS.get(name)
    payload: dict[str, Any] = {"format": "legacy"}
    if name == "bounced":
        text = " ".join(str(form[k]) for k in ("error", "notification") if form.get(k))
        kind = by_reason(form.get("code"), text, bounces.UNKNOWN)
        payload |= bounce_payload(form.get("code"), text or None)
    elif name == "dropped":
        # "old": retried for hours without success, the end of temporary failures.
        fallback = bounces.SOFT if form.get("reason") == "old" else bounces.UNKNOWN
        kind = by_reason(form.get("code"), form.get("description"), fallback)
        payload |= bounce_payload(
            form.get("code"), form.get("description"), reason=form.get("reason")
        )
    elif name in ("opened", "clicked"):
        payload |= {"url": form.get("url"), "user_agent": form.get("user-agent")}
    return [
        EspEvent(
            f"legacy:{token}",
            kind,
            form,
            form.get("recipient"),
            timestamp(form.get("timestamp")),
            message_id_header=form.get("Message-Id") or _legacy_message_id(form),
            payload=payload,
        )
    ]


def _legacy_message_id(form: dict[str, Any]) -> str | None:
    try:
        headers = safe_json.loads(form.get("message-headers") or "[]")
    except ValueError:
        return None
    for pair in headers if isinstance(headers, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == "message-id":
            return str(pair[1])
    return None
