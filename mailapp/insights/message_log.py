"""The transactional activity log: search, filters and keyset pages over messages.

Newest first by id, one page at a time (`before`/`after` an id, never OFFSET), so the first
page and a recipient search cost the same with ten thousand messages or ten million: every
filter has an index leading with (project_id, column, id). Search matches a recipient
address, a message id (ours, or the Message-ID header), an Idempotency-Key or an ESP's
provider message id, in one indexed OR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from mailapp.audience.suppression import normalize_address
from mailapp.delivery.message_tags import TAG_RE, tags_of
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import DeliveryStatus, Message, MessageTag, Template, TemplateVersion

PAGE_SIZE = 50
NO_ID = 2**62  # beyond any id
MAX_PAGE_SIZE = 200
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class LogFilters:
    """What the log is narrowed to; every field optional."""

    q: str | None = None
    status: DeliveryStatus | None = None
    template_id: int | None = None
    tag: str | None = None
    sender_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for links to the next page, the export)."""
        values = {
            "q": self.q,
            "status": self.status.value if self.status else None,
            "template": self.template_id,
            "tag": self.tag,
            "sender": self.sender_id,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass
class LogRow:
    """One message as the log lists it."""

    message: Message
    subject: str | None
    template_name: str | None
    tags: list[str] = field(default_factory=list)


@dataclass
class LogPage:
    rows: list[LogRow]
    newer: int | None  # pass as `after` for the page before this one
    older: int | None  # pass as `before` for the next page


def _int(args: Mapping[str, str], key: str) -> int | None:
    raw = (args.get(key) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ServiceError(f"{key}: give a number, not {raw!r}")
    return int(raw)


def _moment(args: Mapping[str, str], key: str, zone: ZoneInfo) -> datetime | None:
    raw = (args.get(key) or "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(f"{key}: give a date and time like 2026-12-03T09:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)  # as the viewer reads times
    return moment.astimezone(UTC)


def log_filters(args: Mapping[str, str], zone: ZoneInfo = UTC_ZONE) -> LogFilters:
    """Filters from query arguments; a ServiceError naming the field for a bad value.

    Times without an offset are read in `zone` (the viewer's, in the back office)."""
    status = (args.get("status") or "").strip() or None
    if status is not None and status not in DeliveryStatus.__members__.values():
        choices = ", ".join(s.value for s in DeliveryStatus)
        raise ServiceError(f"status: {status!r} is not one of {choices}")
    tag = (args.get("tag") or "").strip().lower() or None
    if tag is not None and not TAG_RE.match(tag):
        raise ServiceError(f"tag: {tag!r} is not a tag")
    filters = LogFilters(
        q=(args.get("q") or "").strip()[:320] or None,
        status=DeliveryStatus(status) if status else None,
        template_id=_int(args, "template"),
        tag=tag,
        sender_id=_int(args, "sender"),
        since=_moment(args, "since", zone),
        until=_moment(args, "until", zone),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise ServiceError("until: must be later than since")
    return filters


def _search(q: str) -> sa.ColumnElement[bool]:
    bare = q.strip("<>")
    matches = [
        Message.idempotency_key == q,
        Message.provider_message_id == q,
        Message.message_id.in_([f"<{bare}>", bare]),
    ]
    if "@" in q:
        matches.append(Message.recipient_key == normalize_address(q))
    if q.isdigit() and len(q) < 19:
        matches.append(Message.id == int(q))
    return sa.or_(*matches)


def filtered(project_id: int, filters: LogFilters) -> sa.Select:
    """The messages of a project that pass the filters (unordered, unpaged)."""
    query = sa.select(Message).where(Message.project_id == project_id)
    if filters.q:
        query = query.where(_search(filters.q))
    if filters.status:
        query = query.where(Message.status == filters.status)
    if filters.template_id:
        query = query.where(Message.template_id == filters.template_id)
    if filters.sender_id:
        query = query.where(Message.sender_id == filters.sender_id)
    if filters.tag:
        tagged = sa.select(MessageTag.message_id).where(
            MessageTag.project_id == project_id,
            MessageTag.tag == filters.tag,
            MessageTag.message_id == Message.id,
        )
        query = query.where(tagged.exists())
    if filters.since:
        query = query.where(Message.created_at >= filters.since)
        query = query.where(Message.id >= _edge_id(project_id, filters.since, first=True))
    if filters.until:
        query = query.where(Message.created_at < filters.until)
        query = query.where(Message.id <= _edge_id(project_id, filters.until, first=False))
    return query


def _edge_id(project_id: int, moment: datetime, *, first: bool) -> sa.ScalarSelect:
    """The id of the first message accepted at/after `moment` (or the last one before it).

    Accept times follow ids (both are taken at submit), so these bounds let the newest-first
    scan start and stop at the range instead of walking every newer message; the
    created_at conditions beside them keep every row shown inside the range. A message
    accepted out of id order (clock skew between web hosts) right at an edge may be left
    out. One (project_id, created_at) index probe each; with no such message the bound
    excludes everything."""
    edge = sa.select(Message.id).where(Message.project_id == project_id)
    if first:
        edge = edge.where(Message.created_at >= moment).order_by(Message.created_at.asc())
    else:
        edge = edge.where(Message.created_at < moment).order_by(Message.created_at.desc())
    return sa.func.coalesce(edge.limit(1).scalar_subquery(), NO_ID if first else -1)


def message_page(
    project_id: int,
    filters: LogFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> LogPage:
    """One page of the log, newest first: older than `before`, or newer than `after`."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = filtered(project_id, filters)
    if after is not None:
        query = query.where(Message.id > after).order_by(Message.id.asc())
    else:
        if before is not None:
            query = query.where(Message.id < before)
        query = query.order_by(Message.id.desc())
    found = list(db.session.scalars(query.limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    if after is not None:
        found.reverse()
    rows = describe(project_id, found)
    first, last = (found[0].id, found[-1].id) if found else (None, None)
    has_newer = (after is not None and more) or (after is None and before is not None)
    has_older = (after is None and more) or (after is not None)
    return LogPage(
        rows=rows,
        newer=first if has_newer and found else None,
        older=last if has_older and found else None,
    )


def describe(project_id: int, messages: list[Message]) -> list[LogRow]:
    """Subject, template name and tags of a page of messages, in three small queries."""
    version_ids = {m.template_version_id for m in messages if m.template_version_id}
    versions = {
        vid: (subject, name)
        for vid, subject, name in db.session.execute(
            sa.select(TemplateVersion.id, TemplateVersion.subject, Template.name)
            .join(Template, Template.id == TemplateVersion.template_id)
            .where(TemplateVersion.project_id == project_id, TemplateVersion.id.in_(version_ids))
        )
    }
    tags = tags_of(project_id, [m.id for m in messages])
    rows = []
    for m in messages:
        subject, name = versions.get(m.template_version_id, (None, None))
        if m.content:
            subject = m.content.get("subject")
        rows.append(LogRow(m, subject, name, tags.get(m.id, [])))
    return rows


def mask_address(address: str) -> str:
    """An address as people without contacts.read see it: a***@example.org."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def with_page(filters: LogFilters, **args: int | None) -> dict[str, str]:
    """Query arguments of the filters plus a page cursor."""
    return {**filters.as_args(), **{k: str(v) for k, v in args.items() if v is not None}}
