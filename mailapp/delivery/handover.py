"""One composed message handed to an SMTP transport: traced, timed and counted."""

from __future__ import annotations

import time

from mailapp.delivery.compose import Composed
from mailapp.mail.transports import SendResult, Transport
from mailapp.runtime import metrics
from mailapp.runtime.tracing import traced_send


def hand_over(transport: Transport, composed: Composed, kind: str) -> SendResult:
    """Send `composed` on `transport`, in a span, and count it by kind, outcome and reply."""
    started = time.monotonic()
    result = traced_send(transport, composed.mail_from, composed.rcpt_to, composed.data)
    metrics.record_handover(kind, result, started)
    return result
