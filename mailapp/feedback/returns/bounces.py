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
import email.utils

from mailapp.feedback.returns.codes import (
    AUTO_REPLY,
    COMPLAINT,
    DELAY,
    HARD,
    SOFT,
    UNKNOWN,
    classify,
)
from mailapp.feedback.returns.heuristics import parse_heuristic
from mailapp.feedback.returns.standard import (
    Recipient,
    Report,
    body_text,
    is_auto_reply,
    parse_arf,
    parse_dsn,
)

__all__ = [
    "AUTO_REPLY",
    "COMPLAINT",
    "DELAY",
    "HARD",
    "SOFT",
    "UNKNOWN",
    "Recipient",
    "Report",
    "body_text",
    "classify",
    "parse_message",
    "parse_report",
]


def parse_message(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw)


def parse_report(raw: bytes | email.message.Message) -> Report:
    """Classify a message sent back to us and name the recipients it is about."""
    msg = parse_message(raw) if isinstance(raw, bytes) else raw
    complaint = parse_arf(msg)
    if complaint is not None:
        return complaint
    dsn = parse_dsn(msg)
    if dsn is not None:
        return dsn
    if is_auto_reply(msg):
        return Report(AUTO_REPLY)
    return parse_heuristic(msg)
