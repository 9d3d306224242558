"""A refusal during the SMTP conversation is read the way returned mail is."""

from __future__ import annotations

import pytest

from mailapp.delivery.outcomes import is_hard_bounce
from mailapp.mail.transports import SendResult


@pytest.mark.parametrize(
    ("code", "reply", "hard"),
    [
        (550, "5.1.1 <ada@example.org>: Recipient address rejected: User unknown", True),
        (550, "5.1.2 Host or domain name not found", True),
        (550, "5.2.1 This account has been disabled", False),
        (550, "5.7.1 Service unavailable; client IP address blacklisted", False),
        (550, "5.1.8 Sender address rejected: domain not found", False),
        (552, "5.2.2 Mailbox full", False),
        (421, "4.7.0 Try again later", False),
    ],
)
def test_only_a_dead_address_is_a_hard_bounce(code: int, reply: str, hard: bool) -> None:
    outcome = "deferred" if code < 500 else "failed"
    assert is_hard_bounce(SendResult(outcome, code, reply)) is hard
