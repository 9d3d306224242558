"""Why a message came back: the named reasons a bounce is filed under, next to hard/soft.

The reason says what the receiving server meant (the address does not exist, the mailbox is
full, our mail was blocked ...); hard or soft follows from it. Each project decides per reason
what a bounce does to the address (`BounceAction`), with the defaults below.
"""

from __future__ import annotations

import enum


class BounceReason(enum.StrEnum):
    USER_UNKNOWN = "user_unknown"
    HOST_UNKNOWN = "host_unknown"
    HAS_MOVED = "has_moved"
    MAILBOX_FULL = "mailbox_full"
    MAILBOX_DISABLED = "mailbox_disabled"
    POLICY_BLOCKED = "policy_blocked"
    SPAM_CONTENT = "spam_content"
    RATE_LIMITED = "rate_limited"
    EXPIRED = "expired"
    AUTH_FAILURE = "auth_failure"
    MESSAGE_TOO_BIG = "message_too_big"
    RELAY_DENIED = "relay_denied"
    NETWORK_ERROR = "network_error"
    SYSTEM_ERROR = "system_error"
    OTHER = "other"


class BounceAction(enum.StrEnum):
    SUPPRESS = "suppress"  # suppress the address at once
    COUNT = "count"  # count toward the project's soft-bounce limit
    RECORD = "record"  # record the event only: the address is not at fault


# The address itself is bad: these are hard bounces, everything else is soft.
HARD_REASONS = frozenset(
    {BounceReason.USER_UNKNOWN, BounceReason.HOST_UNKNOWN, BounceReason.HAS_MOVED}
)

# What marketers read in reports and settings.
REASON_LABELS: dict[str, str] = {
    BounceReason.USER_UNKNOWN: "User unknown",
    BounceReason.HOST_UNKNOWN: "Domain does not exist or takes no mail",
    BounceReason.HAS_MOVED: "Address has moved",
    BounceReason.MAILBOX_FULL: "Mailbox full",
    BounceReason.MAILBOX_DISABLED: "Mailbox disabled or suspended",
    BounceReason.POLICY_BLOCKED: "Blocked by the receiver's policy",
    BounceReason.SPAM_CONTENT: "Rejected as spam or virus",
    BounceReason.RATE_LIMITED: "Rate limited (too much mail at once)",
    BounceReason.EXPIRED: "Expired (gave up after retrying)",
    BounceReason.AUTH_FAILURE: "Authentication failed (SPF, DKIM, DMARC)",
    BounceReason.MESSAGE_TOO_BIG: "Message too big",
    BounceReason.RELAY_DENIED: "Relaying denied",
    BounceReason.NETWORK_ERROR: "Network or DNS error",
    BounceReason.SYSTEM_ERROR: "Receiving system error",
    BounceReason.OTHER: "Other or unknown reason",
}

# Blocks, spam filters, throttling and authentication say something about the sender, not
# the address: by default they are recorded but never suppress anyone.
DEFAULT_BOUNCE_ACTIONS: dict[str, str] = {
    reason.value: (
        BounceAction.SUPPRESS
        if reason in HARD_REASONS
        else BounceAction.RECORD
        if reason
        in (
            BounceReason.POLICY_BLOCKED,
            BounceReason.SPAM_CONTENT,
            BounceReason.RATE_LIMITED,
            BounceReason.AUTH_FAILURE,
            BounceReason.MESSAGE_TOO_BIG,
            BounceReason.RELAY_DENIED,
        )
        else BounceAction.COUNT
    ).value
    for reason in BounceReason
}


ACTION_LABELS: dict[str, str] = {
    BounceAction.SUPPRESS: "Suppress at once",
    BounceAction.COUNT: "Count as a soft bounce",
    BounceAction.RECORD: "Record only, never suppress",
}


def reason_label(reason: str | None) -> str:
    """The marketer's name of a stored reason (an unknown or missing one reads as 'Other')."""
    return REASON_LABELS.get(reason or "", REASON_LABELS[BounceReason.OTHER])
