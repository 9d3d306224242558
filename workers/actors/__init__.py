"""Every actor module; `dramatiq workers.actors` imports them all through here."""

from workers import broker  # noqa: F401 - the broker must exist before any actor
from workers.actors import audience, feedback, maintenance, sending, tracking, webhooks

__all__ = ["audience", "feedback", "maintenance", "sending", "tracking", "webhooks"]
