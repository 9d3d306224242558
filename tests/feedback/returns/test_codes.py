"""Classification by what the reply says: a named reason, and hard or soft from it."""

from __future__ import annotations

import pytest

from mailapp.feedback.returns.codes import DELAY, HARD, SOFT, UNKNOWN, classify, judge


@pytest.mark.parametrize(
    ("status", "diagnostic", "action", "expected", "reason"),
    [
        # The reply's text beats the DSN's generic or summarising Status.
        ("5.1.1", "550 5.7.1 IP address blacklisted by recipient", "failed", SOFT,
         "policy_blocked"),
        ("5.1.1", "550 5.1.1 RCP-P2 Refused due to recipient preferences", "failed", SOFT,
         "policy_blocked"),
        ("5.1.1", "552 sorry, mailbox a@b.example is full", "failed", SOFT, "mailbox_full"),
        # 5.2.1 is what the text says: disabled, throttled, or really unknown.
        ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled", "failed",
         SOFT, "mailbox_disabled"),
        ("5.2.1", "550-5.2.1 The user you are trying to contact is receiving mail at a rate that "
         "prevents additional messages from being delivered", "failed", SOFT, "rate_limited"),
        ("5.2.1", "550 5.2.1 <a@b.example>... User Unknown", "failed", HARD, "user_unknown"),
        ("5.2.1", None, "failed", SOFT, "mailbox_disabled"),
        ("5.2.2", "552 5.2.2 mailbox full", "failed", SOFT, "mailbox_full"),
        (None, "552 Requested mail action aborted: exceeded storage allocation", None, SOFT,
         "mailbox_full"),
        # Non-generic codes are read through their text, not returned as unknown.
        ("5.4.4", "550 5.4.4 Host or domain name not found", "failed", HARD, "host_unknown"),
        (None, "550 5.1.351 Remote server returned unknown recipient", None, HARD, "user_unknown"),
        ("4.1.1", "450 4.1.1 <a@b.example>: Recipient address rejected: User unknown", "failed",
         HARD, "user_unknown"),
        # A lookup that failed with a temporary code is DNS trouble, not a dead domain.
        ("4.0.0", "DNS Error: lookup of example.jp responded with NXDOMAIN Domain name not found",
         "failed", SOFT, "network_error"),
        # About our sender, not the recipient's address.
        ("5.1.8", "553 5.1.8 <news@shop.example>: Sender address rejected: Domain not found",
         "failed", SOFT, "policy_blocked"),
        (None, "550 5.1.7 Invalid address", None, SOFT, "policy_blocked"),
        (None, "SMTP error from remote mail server after MAIL FROM:<x@shop.example>: 550 no",
         None, SOFT, "policy_blocked"),
        ("5.7.26", "550 5.7.26 This mail has been blocked because the sender is unauthenticated "
         "(DMARC)", "failed", SOFT, "auth_failure"),
        ("4.7.28", "421 4.7.28 Our system has detected an unusual rate of mail", "failed", SOFT,
         "rate_limited"),
        ("5.7.1", "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org",
         "failed", SOFT, "policy_blocked"),
        ("5.7.1", "550 5.7.1 Message rejected as spam by content filtering", "failed", SOFT,
         "spam_content"),
        ("5.3.4", "552 5.3.4 message too big", "failed", SOFT, "message_too_big"),
        ("4.4.7", None, "failed", SOFT, "expired"),
        ("5.0.0", "550 Relay access denied", "failed", SOFT, "relay_denied"),
        # A vague text yields to a specific code; with no code, it is read as it stands.
        ("5.7.1", "550 5.7.1 Requested action not taken: mailbox unavailable", "failed", SOFT,
         "policy_blocked"),
        (None, "550 Requested action not taken: mailbox unavailable", None, HARD, "user_unknown"),
        ("5.0.0", "550 unknown user <a@b.example>", "failed", HARD, "user_unknown"),
        ("5.1.0", None, "failed", HARD, "user_unknown"),
        # Nothing said: unknown, never guessed; a temporary code alone is soft.
        ("5.0.0", "550 no reason given", "failed", UNKNOWN, "other"),
        (None, "something odd happened", None, UNKNOWN, "other"),
        ("4.0.0", "451 please come back", "failed", SOFT, "other"),
        ("4.4.7", None, "delayed", DELAY, "expired"),
    ],
)  # fmt: skip
def test_the_reply_decides_the_reason_and_the_reason_hard_or_soft(
    status, diagnostic, action, expected, reason
):
    verdict = judge(status, diagnostic, action)
    assert (verdict.classification, verdict.reason) == (expected, reason)
    assert classify(status, diagnostic, action) == expected


def test_a_delivered_recipient_has_no_verdict():
    assert judge("2.0.0", "250 ok", "delivered") is None
    assert classify("2.0.0", None, "relayed") is None
