"""Reading bounce, delay, complaint and auto-reply mail: pure functions, no database.

`parse_report(raw)` tells what a message returned to us is and which addresses it names:

- RFC 3464 delivery status notifications, per recipient (Action, Status, Diagnostic-Code,
  Final-/Original-Recipient), ignoring reports quoted inside a forwarded message;
- RFC 5965 ARF complaints (feedback loops);
- the many non-standard bounce formats, whose addresses flufl.bounce detects, completed by
  a few formats it misses (Exim's "following addresses failed", bulleted recipient lists);
- RFC 3834 auto-replies and delay warnings, which are neither bounces nor failures.

Each failed recipient is classified by reason with `codes.classify`. The standard formats
are read in `standard`, the others in `heuristics`; this module is the one entry.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import logging
import re

from mailapp.feedback.returns.codes import (
    AUTO_REPLY,
    COMPLAINT,
    DELAY,
    HARD,
    SOFT,
    UNKNOWN,
    Verdict,
    classify,
    judge,
)
from mailapp.feedback.returns.heuristics import parse_heuristic
from mailapp.feedback.returns.notifications import parse_ses_notification
from mailapp.feedback.returns.standard import (
    Recipient,
    Report,
    is_auto_reply,
    parse_arf,
    parse_dsn,
)
from mailapp.feedback.returns.text import body_text

__all__ = [
    "AUTO_REPLY",
    "COMPLAINT",
    "DELAY",
    "HARD",
    "SOFT",
    "UNKNOWN",
    "Recipient",
    "Report",
    "Verdict",
    "body_text",
    "classify",
    "is_mail",
    "judge",
    "parse_message",
    "parse_report",
]

log = logging.getLogger(__name__)
# Fields at least one of which every message has (RFC 5322, 2045); a JSON body or binary
# junk parsed as "headers" has none of them.
MAIL_FIELDS = frozenset(
    {
        "from", "to", "cc", "subject", "date", "message-id", "received", "return-path",
        "mime-version", "content-type", "delivered-to", "x-original-to", "sender", "reply-to",
        "in-reply-to", "references", "auto-submitted", "x-failed-recipients",
    }
)  # fmt: skip
HEADER_NAME = re.compile(r"^[!-9;-~]+$")


def parse_message(raw: bytes) -> email.message.Message:
    """The message in bytes as received, however damaged (never raises)."""
    return email.message_from_bytes(raw)


def is_mail(msg: email.message.Message) -> bool:
    """Does a parsed input look like an e-mail message at all (headers we know)?"""
    names = {str(k).strip().lower() for k in msg if HEADER_NAME.match(str(k).strip())}
    return bool(names & MAIL_FIELDS)


def parse_report(raw: bytes | email.message.Message) -> Report:
    """Classify a message sent back to us and name the recipients it is about.

    Never raises: a message that trips a reader is logged and kept as unknown.
    """
    try:
        msg = parse_message(raw) if isinstance(raw, bytes) else raw
        return _read(msg)
    except Exception:
        log.exception("could not read a returned message; keeping it as unknown")
        return Report(UNKNOWN)


def _read(msg: email.message.Message) -> Report:
    complaint = parse_arf(msg)
    if complaint is not None:
        return complaint
    dsn = parse_dsn(msg)
    if dsn is not None:
        return dsn
    notification = parse_ses_notification(msg)
    if notification is not None:
        return notification
    if is_auto_reply(msg):
        sender = email.utils.parseaddr(str(msg.get("From", "")))[1]
        return Report(AUTO_REPLY, (Recipient(sender, AUTO_REPLY),) if "@" in sender else ())
    return parse_heuristic(msg)
