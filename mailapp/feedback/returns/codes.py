"""Classifying a delivery failure by its reason, not by the first digit of its code.

Hard (the address itself is bad): 5.1.0-5.1.3, 5.1.6, 5.1.10, 5.2.1 and "user unknown" texts.
Soft (the address may be fine): 4.x.x, 5.2.2 mailbox full, and 5.7.x policy or reputation
blocks, which say something about us, not the address. Anything else stays unknown: a
generic code (5.0.0, 5.5.0 ...) is read through its text, never guessed.
"""

from __future__ import annotations

import re

HARD = "bounce_hard"
SOFT = "bounce_soft"
COMPLAINT = "complaint"
DELAY = "delay"
AUTO_REPLY = "auto_reply"
UNKNOWN = "unknown"

# Enhanced status codes (RFC 3463) that say the address itself is bad.
HARD_CODES = frozenset({"5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"})
# Generic codes whose meaning is in the text that comes with them.
GENERIC_CODES = frozenset({"5.0.0", "5.5.0", "5.3.0", "5.4.0", "5.2.0", "5.5.1", "5.5.2"})

HARD_TEXT = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|address|account|domain)"
    r"|(user|recipient|mailbox|address|account) (not found|unknown|does not exist|doesn'?t exist)"
    r"|(mailbox|account|address) (is |has been )?(disabled|closed|deactivated|discontinued)"
    r"|addressee unknown|doesn'?t have an? [\w.-]+ account"
    r"|recipientnotfound|unknown recipient|invalid (recipient|mailbox|address)"
    r"|not a valid (mailbox|recipient|address)|unknown local.?part|unrouteable address"
    r"|domain name not found|host unknown|host or domain name not found|bad destination mailbox"
    r"|recipient address rejected: (user unknown|undeliverable)",
    re.IGNORECASE,
)
SOFT_TEXT = re.compile(
    r"mailbox (is )?full|quota|exceeded storage|insufficient (system )?storage|storage allocation"
    r"|try again later|temporar|greylist|rate limit|too many (messages|connections)"
    r"|blocked|black.?list|spam|reputation|policy|timed? out",
    re.IGNORECASE,
)
ENHANCED_RE = re.compile(r"(?<![\w.-])([245])\.([0-7])\.(\d{1,3})(?![\w.])")
# A basic reply code, not a phone number or a version: "550 ", "550-5.1.1", end of line.
BASIC_RE = re.compile(r"(?<![\w.+-])([245]\d\d)(?: |-(?=[245]\.)|$)", re.MULTILINE)


def classify(
    status: str | None, diagnostic: str | None = None, action: str | None = None
) -> str | None:
    """bounce_hard, bounce_soft, delay or unknown; None for a recipient that did not fail."""
    action = (action or "").strip().lower()
    if action == "delayed":
        return DELAY
    if action in ("delivered", "relayed", "expanded"):
        return None
    text = diagnostic or ""
    code = enhanced_code(status) or enhanced_code(text)
    if code is not None:
        if code.startswith("4."):
            return SOFT
        if code.startswith("5."):
            if code in HARD_CODES:
                return HARD
            if code == "5.2.2" or code.startswith("5.7."):
                return SOFT
            if code not in GENERIC_CODES:
                return UNKNOWN
    basic = BASIC_RE.search(text)
    if code is None and basic and basic[1].startswith("4"):
        return SOFT
    if HARD_TEXT.search(text):
        return HARD
    if SOFT_TEXT.search(text) or (basic and basic[1] == "552"):
        return SOFT
    return UNKNOWN


def enhanced_code(text: str | None) -> str | None:
    match = ENHANCED_RE.search(text or "")
    return ".".join(match.groups()) if match else None
