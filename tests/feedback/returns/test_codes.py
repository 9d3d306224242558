"""Classification by reason, not by the first digit of the code."""

from __future__ import annotations

import pytest

from mailapp.feedback.returns.codes import DELAY, HARD, SOFT, UNKNOWN, classify


@pytest.mark.parametrize(
    ("status", "diagnostic", "action", "expected"),
    [
        ("5.1.1", "550 5.1.1 mailbox unavailable", "failed", HARD),
        ("5.1.2", None, "failed", HARD),
        ("5.1.3", None, "failed", HARD),
        ("5.1.6", None, "failed", HARD),
        ("5.1.10", None, "failed", HARD),
        ("5.2.1", None, "failed", HARD),
        ("5.2.2", "552 5.2.2 mailbox full", "failed", SOFT),
        ("5.7.1", "550 5.7.1 message rejected due to poor reputation", "failed", SOFT),
        ("5.7.26", "550 5.7.26 unauthenticated email from example.com", "failed", SOFT),
        ("4.4.1", "421 connection timed out", "failed", SOFT),
        ("5.0.0", "550 unknown user <a@b.example>", "failed", HARD),
        ("5.0.0", "550 no reason given", "failed", UNKNOWN),
        ("5.3.4", "552 message too big", "failed", UNKNOWN),
        (None, "550 User unknown", None, HARD),
        (None, "452 Mailbox over quota", None, SOFT),
        (None, "something odd happened", None, UNKNOWN),
        ("4.4.7", None, "delayed", DELAY),
        ("2.0.0", None, "delivered", None),
    ],
)
def test_classification_goes_by_reason_not_first_digit(status, diagnostic, action, expected):
    assert classify(status, diagnostic, action) == expected
