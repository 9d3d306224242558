"""The activity log as CSV: the filtered messages read page by page (keyset, never
OFFSET), formulas neutralized, addresses masked for people without contacts.read; audited."""

from __future__ import annotations

from collections.abc import Iterator

from mailapp.access.audit import Actor, record_audit
from mailapp.extensions import db
from mailapp.insights.message_log import MAX_PAGE_SIZE, LogFilters, mask_address, message_page
from mailapp.safe_csv import csv_lines

EXPORT_MAX_ROWS = 50_000


def export_messages(
    project_id: int, filters: LogFilters, *, masked: bool, actor: Actor
) -> Iterator[str]:
    """Record who exported what, then the CSV lines (at most EXPORT_MAX_ROWS rows)."""
    record_audit(
        actor,
        "messages.export",
        project_id=project_id,
        context={"filters": filters.as_args(), "masked": masked},
    )
    db.session.commit()
    return export_lines(project_id, filters, masked=masked)


EXPORT_HEADER = (
    "id",
    "accepted_at_utc",
    "recipient",
    "subject",
    "template",
    "tags",
    "status",
    "attempts",
    "last_reply",
    "reason",
    "sent_at_utc",
    "message_id_header",
    "provider_message_id",
    "idempotency_key",
    "resend_of",
)


def export_lines(project_id: int, filters: LogFilters, *, masked: bool) -> Iterator[str]:
    """The filtered log as CSV, streamed page by page (keyset, never OFFSET), formulas
    neutralized; at most EXPORT_MAX_ROWS rows."""
    return csv_lines(EXPORT_HEADER, _export_rows(project_id, filters, masked))


def _export_rows(project_id: int, filters: LogFilters, masked: bool) -> Iterator[list]:
    before, sent = None, 0
    while sent < EXPORT_MAX_ROWS:
        page = message_page(project_id, filters, before=before, limit=MAX_PAGE_SIZE)
        for row in page.rows:
            m = row.message
            yield [
                m.id,
                m.created_at.isoformat(),
                mask_address(m.recipient) if masked else m.recipient,
                row.subject,
                row.template_name or ("inline content" if m.content else None),
                " ".join(row.tags),
                m.status.value,
                m.attempts,
                m.last_reply,
                m.reason,
                m.sent_at.isoformat() if m.sent_at else None,
                m.message_id,
                m.provider_message_id,
                m.idempotency_key,
                m.resend_of_id,
            ]
        sent += len(page.rows)
        if page.older is None:
            return
        before = page.older
