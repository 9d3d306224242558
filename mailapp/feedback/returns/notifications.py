"""Amazon SES bounce and complaint notifications that arrive by mail (an SNS e-mail topic).

The body is the SES notification's JSON, bare or inside the SNS envelope's "Message"; long
lines may have been folded by a mailer on the way ("!" + newline + space), which is undone
before reading. Each bounced or complained-about recipient is read with its own status and
diagnostic code; SES's Permanent/Transient call decides only where those say nothing.
"""

from __future__ import annotations

import email.message
import json
import re
from typing import Any

from mailapp.feedback.returns.codes import COMPLAINT, HARD, SOFT, UNKNOWN, judge
from mailapp.feedback.returns.standard import Recipient, Report, overall_kind
from mailapp.feedback.returns.text import body_text

FOLD = re.compile(r"!\r?\n ")


def parse_ses_notification(msg: email.message.Message) -> Report | None:
    """The report an e-mailed SES notification makes; None for any other message."""
    text = body_text(msg)
    if "notificationType" not in text and "eventType" not in text:
        return None
    data = _json_object(FOLD.sub("", text))
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        data = _json_object(data["Message"])
    if not isinstance(data, dict):
        return None
    kind = data.get("notificationType") or data.get("eventType")
    if kind == "Complaint":
        complaint = data.get("complaint") or {}
        recipients = tuple(
            Recipient(
                r["emailAddress"], COMPLAINT, diagnostic=complaint.get("complaintFeedbackType")
            )
            for r in complaint.get("complainedRecipients") or []
            if isinstance(r, dict) and r.get("emailAddress")
        )
        feedback = {"feedback-type": str(complaint.get("complaintFeedbackType") or "abuse")}
        return Report(COMPLAINT, recipients, None, feedback)
    if kind != "Bounce":
        return None
    bounce = data.get("bounce") or {}
    fallback = {"Permanent": HARD, "Transient": SOFT}.get(bounce.get("bounceType"), UNKNOWN)
    recipients = tuple(
        _bounced(r, fallback) for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)
    )
    recipients = tuple(r for r in recipients if r.address)
    if not recipients:
        return Report(fallback, (), None)
    return Report(overall_kind(list(recipients)), recipients, None)


def _bounced(item: dict[str, Any], fallback: str) -> Recipient:
    status, diagnostic = item.get("status"), item.get("diagnosticCode")
    verdict = judge(str(status) if status else None, str(diagnostic or ""), "failed")
    classification = verdict.classification if verdict else UNKNOWN
    return Recipient(
        str(item.get("emailAddress") or ""),
        fallback if classification == UNKNOWN else classification,
        str(status) if status else None,
        str(diagnostic) if diagnostic else None,
        action=str(item.get("action") or "failed"),
        reason=verdict.reason if verdict else None,
    )


def _json_object(text: str) -> Any:
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        return None
    try:
        return json.loads(text[start : end + 1])
    except ValueError:
        return None
