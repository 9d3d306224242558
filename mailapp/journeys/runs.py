"""One claimed enrollment as a wake moves it through its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailapp.models import EnrollmentStatus


@dataclass
class Run:
    """One claimed enrollment as the wake moves it; written back in bulk at the end."""

    id: int
    project_id: int
    journey_id: int
    version_id: int
    contact_id: int
    round: int
    status: str
    step: str | None
    seq: int
    data: dict
    waiting_for: str | None
    claimed_seq: int = 0
    wake_at: datetime | None = None
    left_at: datetime | None = None
    exit_reason: str | None = None
    moving: bool = True
    ledger: list[dict] = field(default_factory=list)

    def record(self, step: str, outcome: str, now: datetime, detail: dict | None = None) -> None:
        self.ledger.append(
            {
                "project_id": self.project_id,
                "enrollment_id": self.id,
                "seq": self.seq,
                "step": step,
                "outcome": outcome[:100],
                "detail": detail or {},
                "at": now,
            }
        )
        self.seq += 1

    def advance(self, target: str | None, now: datetime) -> None:
        if target is None:
            self.end(EnrollmentStatus.COMPLETED, None, now)
        else:
            self.step, self.status = target, EnrollmentStatus.ACTIVE.value

    def end(self, status: EnrollmentStatus, reason: str | None, now: datetime) -> None:
        self.status, self.exit_reason, self.left_at = status.value, reason, now
        self.wake_at, self.waiting_for, self.moving = None, None, False
