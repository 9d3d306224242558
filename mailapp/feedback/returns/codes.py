"""Classifying a delivery failure by what the reply says, not by the first field with a code.

`judge(status, diagnostic, action)` names the reason (`BounceReason`) and the classification
that follows from it: hard only when the address itself is bad (user unknown, domain that does
not exist or takes no mail, address moved), soft for every other known reason, unknown when
neither the text nor the code says anything. The reply's text is read first: a DSN's
`Status: 5.1.1` over a reply "550 5.7.1 IP address blacklisted" is a block, not a bad address.
A specific enhanced status code (RFC 3463 and its registry) decides where the text is vague
or silent; generic ones (X.0.0, X.5.x, ...) never do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailapp.feedback.returns.reasons import reason_in_text
from mailapp.models.bounce_reason import HARD_REASONS
from mailapp.models.bounce_reason import BounceReason as R

HARD = "bounce_hard"
SOFT = "bounce_soft"
COMPLAINT = "complaint"
DELAY = "delay"
AUTO_REPLY = "auto_reply"
UNKNOWN = "unknown"
NOT_MAIL = "not_mail"  # input that is not an e-mail message at all

ENHANCED_RE = re.compile(r"(?<![\w.-])#?([245])\.([0-7])\.(\d{1,3})(?!\w|\.\d)")
# A basic reply code, not a phone number or a version: "550 ", "550-5.1.1", end of line.
BASIC_RE = re.compile(r"(?<![\w.+-])([245]\d\d)(?: |-(?=[245]\.)|$)", re.MULTILINE)

# RFC 3463 subject.detail -> reason; a subject alone is its fallback detail.
CODE_REASONS: dict[str, R] = {
    "1.0": R.USER_UNKNOWN,
    "1.1": R.USER_UNKNOWN,
    "1.2": R.HOST_UNKNOWN,
    "1.3": R.USER_UNKNOWN,
    "1.6": R.HAS_MOVED,
    "1.7": R.POLICY_BLOCKED,
    "1.8": R.POLICY_BLOCKED,
    "1.10": R.HOST_UNKNOWN,
    "2.1": R.MAILBOX_DISABLED,
    "2.2": R.MAILBOX_FULL,
    "2.3": R.MESSAGE_TOO_BIG,
    "2.4": R.SYSTEM_ERROR,
    "3": R.SYSTEM_ERROR,
    "3.4": R.MESSAGE_TOO_BIG,
    "4": R.NETWORK_ERROR,
    "4.4": R.HOST_UNKNOWN,
    "4.6": R.SYSTEM_ERROR,
    "4.7": R.EXPIRED,
    "6": R.OTHER,
    "7": R.POLICY_BLOCKED,
    "7.5": R.AUTH_FAILURE,
    "7.6": R.AUTH_FAILURE,
    "7.7": R.AUTH_FAILURE,
    "7.8": R.AUTH_FAILURE,
    "7.9": R.AUTH_FAILURE,
    "7.12": R.AUTH_FAILURE,
    "7.13": R.MAILBOX_DISABLED,
    "7.16": R.MESSAGE_TOO_BIG,
    "7.17": R.HAS_MOVED,
    "7.18": R.HAS_MOVED,
    **{f"7.{n}": R.AUTH_FAILURE for n in (20, 21, 22, 23, 24, 26, 29)},
    "7.28": R.RATE_LIMITED,
}
# Codes about the sender's address (bad syntax, unknown domain), never the recipient's.
SENDER_DETAILS = frozenset({"1.7", "1.8"})
# Codes that only say "something failed": their text decides.
GENERIC_DETAILS = frozenset({"0.0", "1.0", "2.0", "3.0", "4.0", "6.0", "7.0"})
# Basic SMTP replies (RFC 5321) that name a reason on their own.
BASIC_REASONS = {"551": R.HAS_MOVED, "552": R.MAILBOX_FULL, "421": R.SYSTEM_ERROR}


@dataclass(frozen=True)
class Verdict:
    """What a failed recipient's reply means: hard/soft/unknown and the named reason."""

    classification: str
    reason: str | None


def enhanced_code(text: str | None) -> str | None:
    """The first RFC 3463 code in a text ("5.1.1"), or None."""
    match = ENHANCED_RE.search(text or "")
    return ".".join(match.groups()) if match else None


def code_reason(code: str | None) -> R | None:
    """The reason a specific enhanced code names; None for generic or protocol codes."""
    if not code:
        return None
    _, subject, detail = code.split(".")
    if f"{subject}.{detail}" in GENERIC_DETAILS or subject == "5":
        return None
    return CODE_REASONS.get(f"{subject}.{detail}") or CODE_REASONS.get(subject)


def judge(
    status: str | None, diagnostic: str | None = None, action: str | None = None
) -> Verdict | None:
    """The verdict on one recipient; None for one that did not fail (delivered, relayed)."""
    action = (action or "").strip().lower()
    if action in ("delivered", "relayed", "expanded"):
        return None
    text = diagnostic or ""
    # The remote server's own code (in its reply) over the reporting MTA's summary of it.
    code = enhanced_code(text) or enhanced_code(status)
    found = reason_in_text(text)
    by_code = code_reason(code)
    reason = by_code
    if found is not None:
        said, strong = found
        reason = said
        # A vague text ("mailbox unavailable") yields to a specific code.
        if by_code is not None and by_code != said and not strong:
            reason = by_code
    if code is not None and code.split(".", 1)[1] in SENDER_DETAILS:
        # X.1.7 / X.1.8: our sender's address or domain is refused, whatever the words.
        reason = R.POLICY_BLOCKED
    if reason == R.HOST_UNKNOWN and (code or "").startswith("4."):
        # A lookup that failed with a temporary code may work tomorrow: DNS, not the domain.
        reason = R.NETWORK_ERROR
    if reason is None and code is not None and code.startswith("5.1.0"):
        # "Other address status", permanent: about the address, and nothing says otherwise.
        reason = R.USER_UNKNOWN
    if reason is None:
        basic = BASIC_RE.search(text)
        reason = BASIC_REASONS.get(basic[1]) if basic else None
    if action == "delayed":
        return Verdict(DELAY, reason.value if reason else None)
    if reason is None or reason == R.OTHER:
        temporary = (code or "").startswith("4.") or bool(
            code is None and (basic := BASIC_RE.search(text)) and basic[1].startswith("4")
        )
        return Verdict(SOFT if temporary else UNKNOWN, R.OTHER.value)
    return Verdict(HARD if reason in HARD_REASONS else SOFT, reason.value)


def classify(
    status: str | None, diagnostic: str | None = None, action: str | None = None
) -> str | None:
    """bounce_hard, bounce_soft, delay or unknown; None for a recipient that did not fail."""
    verdict = judge(status, diagnostic, action)
    return verdict.classification if verdict else None
