"""One transactional message's history, for support: accepted by the API, queued, every SMTP
attempt with the server's reply, then what the recipient's side told us (bounces with the
returned report, complaints, unsubscribes, opens and clicks, people's apart from machines').

Read from the rows the pipeline already writes: the message, its attempts, its events and
the returned mail those events came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import (
    DeliveryStatus,
    Event,
    EventType,
    InboundMessage,
    Link,
    Message,
    MessageAttempt,
)

RAW_REPORT_CHARS = 20_000
ATTEMPT_TITLES = {
    "sent": "Accepted by the receiving server",
    "deferred": "Deferred by the receiving server (will retry)",
    "failed": "Refused by the receiving server",
    "unknown": "Connection lost after sending: outcome unknown",
}
EVENT_TITLES = {
    EventType.SENT: "Accepted by the receiving server",
    EventType.DELIVERED: "Delivered (reported by the ESP)",
    EventType.BOUNCE_HARD: "Bounced (permanent)",
    EventType.BOUNCE_SOFT: "Bounced (temporary)",
    EventType.COMPLAINT: "Marked as spam by the recipient",
    EventType.UNSUBSCRIBE: "Unsubscribed",
    EventType.OPEN: "Opened",
    EventType.CLICK: "Clicked a link",
    EventType.UNKNOWN: "Report we could not classify",
}


@dataclass
class Step:
    """One line of the timeline."""

    at: datetime | None
    kind: str  # accepted, queued, attempt, event type, final, resend
    title: str
    detail: str | None = None
    machine: bool = False
    tone: str = "secondary"  # bootstrap colour: success, warning, danger, info, secondary
    raw_report: str | None = None
    inbound_id: int | None = None
    links: dict[str, int] = field(default_factory=dict)  # label -> message id


def _tone(kind: str) -> str:
    if kind in ("sent", EventType.SENT, EventType.DELIVERED):
        return "success"
    if kind in ("deferred", EventType.BOUNCE_SOFT, "unknown"):
        return "warning"
    if kind in ("failed", EventType.BOUNCE_HARD, EventType.COMPLAINT):
        return "danger"
    if kind in (EventType.OPEN, EventType.CLICK):
        return "info"
    return "secondary"


def message_timeline(project_id: int, message: Message) -> list[Step]:
    """The message's steps, oldest first."""
    steps = [Step(message.created_at, "accepted", "Accepted by the API", _accepted_detail(message))]
    if message.resend_of_id:
        steps[0].links["resend of"] = message.resend_of_id
    if message.status == DeliveryStatus.SUPPRESSED and not message.attempts:
        steps.append(Step(message.created_at, "final", "Not sent", message.reason, tone="danger"))
    else:
        steps.append(Step(message.created_at, "queued", "Queued for sending"))
    attempts = list(
        db.session.scalars(
            sa.select(MessageAttempt)
            .where(MessageAttempt.project_id == project_id, MessageAttempt.message_id == message.id)
            .order_by(MessageAttempt.attempted_at, MessageAttempt.id)
        )
    )
    for number, attempt in enumerate(attempts, 1):
        title = f"Attempt {number}: {ATTEMPT_TITLES.get(attempt.outcome, attempt.outcome)}"
        steps.append(
            Step(attempt.attempted_at, "attempt", title, attempt.reply, tone=_tone(attempt.outcome))
        )
    steps += _event_steps(project_id, message, skip_sent=bool(attempts))
    if message.status == DeliveryStatus.FAILED and message.reason:
        steps.append(Step(None, "final", "Gave up", message.reason, tone="danger"))
    for copy_id, at in db.session.execute(
        sa.select(Message.id, Message.created_at).where(
            Message.project_id == project_id, Message.resend_of_id == message.id
        )
    ):
        steps.append(Step(at, "resend", "Resent as a new message", links={"new message": copy_id}))
    return sorted(steps, key=lambda s: (s.at is None, s.at or message.created_at))


def _accepted_detail(message: Message) -> str | None:
    if message.idempotency_key:
        return f"Idempotency-Key {message.idempotency_key}"
    return None


def _event_steps(project_id: int, message: Message, *, skip_sent: bool) -> list[Step]:
    events = list(
        db.session.scalars(
            sa.select(Event)
            .where(Event.project_id == project_id, Event.message_id == message.id)
            .order_by(Event.occurred_at, Event.id)
        )
    )
    inbound_ids = {e.payload.get("inbound_message_id") for e in events} - {None}
    reports = {
        row.id: row
        for row in db.session.scalars(
            sa.select(InboundMessage).where(
                InboundMessage.project_id == project_id, InboundMessage.id.in_(inbound_ids)
            )
        )
    }
    link_ids = {e.link_id for e in events if e.link_id}
    urls = dict(
        db.session.execute(
            sa.select(Link.id, Link.url).where(Link.project_id == project_id, Link.id.in_(link_ids))
        ).all()
    )
    steps = []
    for e in events:
        if e.type == EventType.SENT and skip_sent:
            continue  # the attempt that got the 2xx says it already
        steps.append(_event_step(e, reports, urls))
    return steps


def _event_step(e: Event, reports: dict[int, InboundMessage], urls: dict[int, str]) -> Step:
    title = EVENT_TITLES.get(e.type, str(e.type))
    payload = e.payload or {}
    parts = []
    if e.type in (EventType.BOUNCE_HARD, EventType.BOUNCE_SOFT, EventType.COMPLAINT):
        if payload.get("at_send"):
            title += " during the SMTP conversation"
        parts += [payload.get("status"), payload.get("diagnostic") or payload.get("reply")]
        parts.append(payload.get("feedback_type"))
    if e.type == EventType.CLICK and e.link_id in urls:
        parts.append(urls[e.link_id])
    if e.is_machine:
        title += " by a machine"
        parts.append(f"({payload.get('machine', 'privacy proxy or scanner')}, not counted)")
    step = Step(
        e.occurred_at,
        str(e.type),
        title,
        " · ".join(str(p) for p in parts if p) or None,
        machine=e.is_machine,
        tone="secondary" if e.is_machine else _tone(e.type),
    )
    report = reports.get(payload.get("inbound_message_id"))
    if report is not None:
        step.inbound_id = report.id
        step.raw_report = report.raw[:RAW_REPORT_CHARS].decode("utf-8", "replace")
    return step
