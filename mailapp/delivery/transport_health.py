"""Each transport's health in Redis, shared by every worker: messages sent and relay errors
per minute over the last 15 minutes, the last error, and a circuit breaker.

The breaker opens after TRANSPORT_BREAKER_ERRORS relay errors in a row: the transport is
skipped for TRANSPORT_PAUSE_SECONDS, then half-open: one worker gets one trial message (a
short-lived lock), whose success closes the breaker and whose failure opens it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from mailapp.runtime.redaction import redact

WINDOW_MINUTES = 15
# How long a half-open trial may take before another worker may try.
TRIAL_SECONDS = 60
KEEP_SECONDS = 86_400
_ERROR_TEXT = 300


def _key(transport_id: int, part: str) -> str:
    return f"mailapp:transport:{transport_id}:{part}"


@dataclass(frozen=True)
class Health:
    sent: int
    errors: int
    consecutive: int
    last_error: str | None
    last_error_at: float | None
    failing_since: float | None
    paused_for: float  # seconds left in the pause; 0 = not paused


class TransportHealth:
    """Reads and writes the shared health of transports by id."""

    def __init__(self, client: redis.Redis, *, errors_to_open: int, pause_seconds: int) -> None:
        self.redis = client
        self.errors_to_open = errors_to_open
        self.pause_seconds = pause_seconds

    def available(self, transport_id: int) -> bool:
        """Closed, or half-open and this caller won the one trial."""
        pipe = self.redis.pipeline()
        pipe.exists(_key(transport_id, "open"))
        pipe.get(_key(transport_id, "consecutive"))
        is_open, consecutive = pipe.execute()
        if is_open:
            return False
        if int(consecutive or 0) < self.errors_to_open:
            return True
        return bool(self.redis.set(_key(transport_id, "trial"), "1", nx=True, ex=TRIAL_SECONDS))

    def record_answer(self, transport_id: int, *, sent: bool) -> None:
        """The relay answered (took the message, or refused it for the recipient's sake)."""
        pipe = self.redis.pipeline()
        if sent:
            bucket = _key(transport_id, f"sent:{_minute()}")
            pipe.incr(bucket)
            pipe.expire(bucket, (WINDOW_MINUTES + 1) * 60)
        pipe.delete(*(_key(transport_id, p) for p in ("consecutive", "trial", "failing_since")))
        pipe.execute()

    def record_relay_error(self, transport_id: int, reply: str) -> None:
        """The relay could not take the message; may open the breaker."""
        now = time.time()
        bucket = _key(transport_id, f"err:{_minute()}")
        pipe = self.redis.pipeline()
        pipe.incr(bucket)
        pipe.expire(bucket, (WINDOW_MINUTES + 1) * 60)
        pipe.incr(_key(transport_id, "consecutive"))
        pipe.set(_key(transport_id, "failing_since"), str(now), nx=True)
        text = redact(reply)[:_ERROR_TEXT]
        pipe.hset(_key(transport_id, "last_error"), mapping={"text": text, "at": str(now)})
        for part in ("consecutive", "failing_since", "last_error"):
            # A transport removed, or quiet for a day, leaves nothing behind.
            pipe.expire(_key(transport_id, part), KEEP_SECONDS)
        consecutive = pipe.execute()[2]
        if consecutive >= self.errors_to_open:
            pipe = self.redis.pipeline()
            pipe.set(_key(transport_id, "open"), str(consecutive), ex=self.pause_seconds)
            pipe.delete(_key(transport_id, "trial"))
            pipe.execute()

    def read(self, transport_id: int) -> Health:
        """Counts over the last WINDOW_MINUTES, the last error and the breaker's state."""
        minute = _minute()
        minutes = range(minute - WINDOW_MINUTES + 1, minute + 1)
        pipe = self.redis.pipeline()
        pipe.mget([_key(transport_id, f"sent:{m}") for m in minutes])
        pipe.mget([_key(transport_id, f"err:{m}") for m in minutes])
        pipe.get(_key(transport_id, "consecutive"))
        pipe.hgetall(_key(transport_id, "last_error"))
        pipe.get(_key(transport_id, "failing_since"))
        pipe.pttl(_key(transport_id, "open"))
        sent, errors, consecutive, last, since, open_ms = pipe.execute()
        return Health(
            sent=sum(int(v) for v in sent if v),
            errors=sum(int(v) for v in errors if v),
            consecutive=int(consecutive or 0),
            last_error=_text(last.get(b"text")) if last else None,
            last_error_at=float(last[b"at"]) if last else None,
            failing_since=float(since) if since else None,
            paused_for=max(open_ms, 0) / 1000,
        )

    def forget(self, transport_id: int) -> None:
        """A removed transport leaves nothing behind."""
        keys = list(self.redis.scan_iter(match=_key(transport_id, "*"), count=200))
        if keys:
            self.redis.delete(*keys)


def _minute() -> int:
    return int(time.time() // 60)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")
