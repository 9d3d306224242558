"""What became of each claimed row of a send group, written in a few statements.

Every update is guarded by the group's claim time: a row some other path took over since
(a resend, a second claim) is left alone. A row the lease recovery marked `unknown` while
its worker was merely slow gets its real outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mailapp.audience.suppression import suppress
from mailapp.delivery.campaigns import PIPELINE
from mailapp.delivery.compose import Composed
from mailapp.delivery.retries import RetryPolicy, expired_reason
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.feedback.returns.codes import HARD, judge
from mailapp.mail.transports import SendResult
from mailapp.models import (
    Contact,
    Delivery,
    DeliveryStatus,
    EventType,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from mailapp.upserts import in_values

log = logging.getLogger(__name__)
D = Delivery.__table__
# What an outcome writes, besides scheduled_at (kept when the outcome has none).
_WRITTEN = ("status", "attempts", "claimed_at", "sent_at", "last_reply", "reason", "message_id")
_WRITTEN += ("first_deferred_at",)


def _still_claimed(row_id: object, claimed_at: object) -> sa.ColumnElement[bool]:
    """The row is still under this group's claim."""
    return sa.and_(
        D.c.id == row_id,
        D.c.claimed_at == claimed_at,
        # A lease that ran out early made the row unknown: the real outcome wins.
        sa.or_(
            D.c.status == DeliveryStatus.SENDING.value,
            D.c.status == DeliveryStatus.UNKNOWN.value,
        ),
    )


def _outcome_rows() -> sa.TableValuedAlias:
    """The group's outcomes as one array parameter per column, unnested into rows."""
    types = {name: D.c[name].type for name in (*_WRITTEN, "scheduled_at")}
    types["status"] = sa.Text()
    types["b_id"] = sa.BigInteger()
    arrays = [
        sa.cast(sa.bindparam(f"o_{name}"), postgresql.ARRAY(type_)) for name, type_ in types.items()
    ]
    return (
        sa.func.unnest(*arrays)
        .table_valued(*(sa.column(name, type_) for name, type_ in types.items()))
        .render_derived(name="outcome")
    )


def _update_all() -> sa.Update:
    rows = _outcome_rows()
    return (
        sa.update(D)
        .where(_still_claimed(rows.c.b_id, sa.bindparam("o_claimed", type_=D.c.claimed_at.type)))
        .values(
            **{name: rows.c[name] for name in _WRITTEN},
            scheduled_at=sa.func.coalesce(rows.c.scheduled_at, D.c.scheduled_at),
            updated_at=sa.bindparam("o_now", type_=D.c.updated_at.type),
        )
    )


_UPDATE_ALL = _update_all()


def is_hard_bounce(result: SendResult) -> bool:
    """A refusal whose reply says the address is bad, read the way returned mail is
    (`feedback.returns.codes.judge`: the words over a generic code, so "5.2.1 account
    disabled" or "5.1.8 sender refused" is not a dead address)."""
    if result.outcome != "failed":
        return False
    verdict = judge(result.enhanced_code, f"{result.code or ''} {result.reply}", "failed")
    return verdict is not None and verdict.classification == HARD


def asks_to_slow_down(result: SendResult) -> bool:
    """A 421 or 4.7.x deferral: the server throttles us, the address is not at fault."""
    return result.code == 421 or (result.enhanced_code or "").startswith("4.7.")


def throttle_reason(result: SendResult) -> str:
    """The codes of a slow-down reply ("421 4.7.0"), shown to the operator; never its text."""
    return " ".join(str(part) for part in (result.code, result.enhanced_code) if part)


@dataclass
class Claimed:
    id: int
    contact_id: int
    variant: str
    attempts: int
    first_deferred_at: datetime | None = None
    round: int = 0  # a journey enrollment's round (0 for campaigns)


RENDER_REFUSALS_TO_PAUSE = 3


class Unrenderable(Exception):
    """Recipients' copies keep being refused by the sandbox; the message is the last reason."""


class Outcomes:
    """Outcomes of one claimed group, written in a few statements."""

    def __init__(
        self, project_id: int, campaign_id: int, retries: RetryPolicy, claimed_at: datetime
    ) -> None:
        self.project_id = project_id
        self.campaign_id = campaign_id
        self.retries = retries
        self.claimed_at = claimed_at
        self.updates: list[dict] = []
        self.events: list[dict] = []
        self.bounces: list[tuple[str, int, dict]] = []
        self.sent_contacts: list[int] = []
        self.done: set[int] = set()
        self.counts: dict[str, int] = {}
        self.refused_in_a_row = 0

    def _update(self, row: Claimed, status: DeliveryStatus, **values: object) -> None:
        self.done.add(row.id)
        self.counts[status.value] = self.counts.get(status.value, 0) + 1
        self.updates.append(
            {
                "b_id": row.id,
                "status": status.value,
                "attempts": values.pop("attempts", row.attempts),
                "claimed_at": values.pop("claimed_at", self.claimed_at),
                "scheduled_at": values.pop("scheduled_at", None),
                "sent_at": values.pop("sent_at", None),
                "last_reply": values.pop("last_reply", None),
                "reason": values.pop("reason", None),
                "message_id": values.pop("message_id", None),
                "first_deferred_at": values.pop("first_deferred_at", row.first_deferred_at),
            }
        )

    def suppressed(self, row: Claimed, reason: str) -> None:
        self._update(row, DeliveryStatus.SUPPRESSED, reason=reason)

    def not_rendered(self, row: Claimed, error: str) -> None:
        """The sandbox refused this recipient's copy: failed, the reason kept, nothing sent.

        RENDER_REFUSALS_TO_PAUSE refusals in a row raise Unrenderable: the template, not
        the recipients, is the problem, and each refusal may have cost the whole deadline.
        """
        self._update(row, DeliveryStatus.FAILED, reason="not rendered", last_reply=error[:2000])
        self.counts["not_rendered"] = self.counts.get("not_rendered", 0) + 1
        self.refused_in_a_row += 1
        if self.refused_in_a_row >= RENDER_REFUSALS_TO_PAUSE:
            raise Unrenderable(error)

    def later(self, row: Claimed, until: datetime) -> None:
        """Not attempted: back to queued for `until`, the attempt not counted."""
        self._update(
            row,
            DeliveryStatus.QUEUED,
            attempts=row.attempts - 1,
            claimed_at=None,
            scheduled_at=until,
        )
        self.counts["queued"] -= 1
        self.counts["rescheduled"] = self.counts.get("rescheduled", 0) + 1

    def result(self, row: Claimed, composed: Composed, result: SendResult) -> None:
        self.refused_in_a_row = 0
        reply = f"{result.code or ''} {result.reply}".strip()[:2000]
        common = {"last_reply": reply, "message_id": composed.message_id}
        now = utcnow()
        # Refused and lost mail is what an operator looks into; the rest is there at DEBUG.
        level = logging.INFO if result.outcome in ("failed", "unknown") else logging.DEBUG
        log.log(level, "delivery %s: %s", result.outcome, reply, extra={"delivery_id": row.id})
        if result.outcome == "sent":
            self._update(row, DeliveryStatus.SENT, sent_at=now, **common)
            self.sent_contacts.append(row.contact_id)
            self._event(EventType.SENT, row, now, {})
        elif result.outcome == "unknown":
            self._update(row, DeliveryStatus.UNKNOWN, reason="lost after DATA", **common)
        elif result.outcome == "deferred":
            self._deferred(row, result, now, common)
        else:
            self._update(row, DeliveryStatus.FAILED, reason="refused", **common)
            if is_hard_bounce(result):
                payload = {
                    "code": result.code,
                    "enhanced_code": result.enhanced_code,
                    "reply": result.reply[:500],
                    # Refused during the SMTP conversation: reports count it as sent too.
                    "at_send": True,
                }
                self.bounces.append((composed.rcpt_to, row.id, payload))
                self._event(EventType.BOUNCE_HARD, row, now, payload)

    def _deferred(self, row: Claimed, result: SendResult, now: datetime, common: dict) -> None:
        """Tried again later within the queue lifetime, else failed with the last reply."""
        throttled = asks_to_slow_down(result)
        # A throttle is not held against the address: the try is not counted.
        attempts = row.attempts - 1 if throttled else row.attempts
        first = row.first_deferred_at or now
        retry_at = self.retries.retry_at(
            attempts=attempts, first_deferred_at=first, now=now, throttled=throttled
        )
        if retry_at is None:
            reason = expired_reason(self.retries)
            self._update(
                row,
                DeliveryStatus.FAILED,
                attempts=attempts,
                reason=reason,
                first_deferred_at=first,
                **common,
            )
            return
        self._update(
            row,
            DeliveryStatus.DEFERRED,
            attempts=attempts,
            claimed_at=None,
            scheduled_at=retry_at,
            first_deferred_at=first,
            **common,
        )

    def _event(self, kind: EventType, row: Claimed, now: datetime, payload: dict) -> None:
        self.events.append(
            {
                "project_id": self.project_id,
                "type": kind.value,
                "occurred_at": now,
                "campaign_id": self.campaign_id,
                "contact_id": row.contact_id,
                "delivery_id": row.id,
                "is_machine": False,
                "payload": payload,
            }
        )

    def untouched(self, claimed: list[Claimed]) -> list[int]:
        return [row.id for row in claimed if row.id not in self.done]

    def _write_updates(self) -> None:
        """One UPDATE ... FROM unnest(arrays) for the group on PostgreSQL (one statement text,
        prepared once per connection); elsewhere one statement run for each row."""
        if db.engine.dialect.name != "postgresql":
            statement = (
                sa.update(D)
                .where(_still_claimed(sa.bindparam("b_id"), self.claimed_at))
                .values(
                    {
                        **{name: sa.bindparam(name, type_=D.c[name].type) for name in _WRITTEN},
                        "scheduled_at": sa.func.coalesce(
                            sa.bindparam("scheduled_at", type_=D.c.scheduled_at.type),
                            D.c.scheduled_at,
                        ),
                        "updated_at": utcnow(),
                    }
                )
            )
            db.session.connection().execute(statement, self.updates)
            return
        columns = ("b_id", *_WRITTEN, "scheduled_at")
        params = {f"o_{name}": [u[name] for u in self.updates] for name in columns}
        db.session.execute(_UPDATE_ALL, {**params, "o_claimed": self.claimed_at, "o_now": utcnow()})

    def record(self) -> None:
        """Write every outcome under this group's claim, then the events they imply."""
        if self.updates:
            self._write_updates()
        # Through the event writer, so the daily aggregates count sent mail and bounces too.
        record_events(self.events, commit=False)
        if self.sent_contacts:
            db.session.execute(
                sa.update(Contact.__table__)
                .where(in_values(Contact.__table__.c.id, self.sent_contacts))
                .values(last_sent_at=utcnow())
            )
        db.session.commit()
        for address, delivery_id, payload in self.bounces:
            suppress(
                self.project_id,
                address,
                SuppressionReason.HARD_BOUNCE,
                actor=PIPELINE,
                source=f"delivery {delivery_id}: {payload['code']} {payload['enhanced_code']}",
            )
        self.updates, self.events, self.sent_contacts, self.bounces = [], [], [], []
