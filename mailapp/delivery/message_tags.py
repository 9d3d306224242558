"""Tags on transactional messages: a few short labels per message (`password-reset`,
`receipt`) the activity log filters by and the dashboard groups by."""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa

from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import MessageStat, MessageTag

MAX_TAGS = 5
TAG_LENGTH = 64
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def clean_tags(raw: object) -> list[str]:
    """The tags as stored (lower case, deduplicated, in order), or a ServiceError naming
    the field and the rule broken."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ServiceError('tags: give a list of strings, e.g. ["password-reset"]')
    tags = list(dict.fromkeys(t.strip().lower() for t in raw))
    if len(tags) > MAX_TAGS:
        raise ServiceError(f"tags: at most {MAX_TAGS} per message, got {len(tags)}")
    for tag in tags:
        if not tag or len(tag) > TAG_LENGTH or not TAG_RE.match(tag):
            raise ServiceError(
                f"tags: {tag!r} is not a tag (1-{TAG_LENGTH} characters: letters, digits, "
                "'.', '_' and '-', starting with a letter or digit)"
            )
    return tags


def add_tags(project_id: int, message_id: int, tags: Iterable[str]) -> None:
    """Attach already-cleaned tags to a message (the caller commits)."""
    for tag in tags:
        db.session.add(MessageTag(project_id=project_id, message_id=message_id, tag=tag))


def tags_of(project_id: int, message_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each message's tags, sorted, for the messages of one page."""
    ids = sorted(set(message_ids))
    found: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return found
    for message_id, tag in db.session.execute(
        sa.select(MessageTag.message_id, MessageTag.tag)
        .where(MessageTag.project_id == project_id, MessageTag.message_id.in_(ids))
        .order_by(MessageTag.message_id, MessageTag.tag)
    ):
        found[message_id].append(tag)
    return found


def project_tags(project_id: int, limit: int = 200) -> list[str]:
    """The tags used in a project, for filter choices (from the aggregates, not the
    per-message rows, so it stays cheap at millions of messages)."""
    return list(
        db.session.scalars(
            sa.select(MessageStat.value)
            .where(
                MessageStat.project_id == project_id,
                MessageStat.dimension == "tag",
                MessageStat.metric == "accepted",
            )
            .distinct()
            .order_by(MessageStat.value)
            .limit(limit)
        )
    )
