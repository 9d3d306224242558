"""Every actor module; `dramatiq workers.actors` imports them all through here.

Importing this package also binds `mailapp.tasks`, the seam through which the domain
enqueues work without importing the workers.
"""

from mailapp import tasks
from workers import broker  # noqa: F401 - the broker must exist before any actor
from workers.actors import (
    alerts,
    audience,
    domains,
    feedback,
    journeys,
    maintenance,
    sending,
    tracking,
    webhooks,
)

tasks.bind(
    dispatch=sending.dispatch.send,
    run_import=audience.run_import.send,
    send_confirmation=audience.send_confirmation.send,
    send_message=sending.send_message.send,
    check_guardrails=sending.check_guardrails.send,
    count_audience=sending.count_audience.send,
    send_alert=alerts.send_alert.send,
)

__all__ = [
    "alerts",
    "audience",
    "domains",
    "feedback",
    "journeys",
    "maintenance",
    "sending",
    "tracking",
    "webhooks",
]
