"""When deferred mail is tried again and when it is given up, the way an MTA's queue does it.

A 4xx reply keeps a message in the queue for the queue lifetime (Postfix's
`maximal_queue_lifetime`, 5 days by default), counted from its first deferral and tried
again after growing waits (SEND_BACKOFF, whose last step repeats). A throttle (421 or
4.7.x: "slow down") says nothing against the address: it is not counted as a failed
attempt and is tried again after the shortest wait, the rate limiter slowing the domain
down meanwhile. When the lifetime is over the message fails with its last reply kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from mailapp.models import Project


@dataclass(frozen=True)
class RetryPolicy:
    """Waits between tries (the last one repeats) and how long mail is kept trying."""

    backoff: tuple[int, ...]
    lifetime: timedelta

    @classmethod
    def for_project(cls, project: Project) -> RetryPolicy:
        """The server's backoff, and the project's lifetime (`retry_hours`) or the server's."""
        config = current_app.config
        hours = (project.settings or {}).get("retry_hours")
        lifetime = (
            timedelta(hours=int(hours))
            if hours
            else timedelta(seconds=config["SEND_QUEUE_LIFETIME"])
        )
        return cls(tuple(config["SEND_BACKOFF"]), lifetime)

    def retry_at(
        self,
        *,
        attempts: int,
        first_deferred_at: datetime | None,
        now: datetime,
        throttled: bool = False,
    ) -> datetime | None:
        """When to try again after a deferral, or None when the lifetime is over.

        `attempts` counts the tries so far, this one included. The last try falls on the
        lifetime's end rather than a full backoff step after it.
        """
        first = first_deferred_at or now
        end = first + self.lifetime
        if now >= end:
            return None
        index = 0 if throttled else min(max(attempts, 1), len(self.backoff)) - 1
        return min(now + timedelta(seconds=self.backoff[index]), end)

    def describe_lifetime(self) -> str:
        """The lifetime in words, for the reason a row failed ("5 days", "6 hours")."""
        seconds = int(self.lifetime.total_seconds())
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size and seconds % size == 0:
                count = seconds // size
                return f"{count} {unit}{'s' if count != 1 else ''}"
        return f"{seconds} s"


def expired_reason(policy: RetryPolicy) -> str:
    """Why a deferred row failed at last (the reply itself is kept in last_reply)."""
    return f"expired: still deferred after {policy.describe_lifetime()}"
