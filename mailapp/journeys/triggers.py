"""Journey triggers: each tick finds who should start a running journey and enrolls them.

Nothing below journeys calls in here (the audience code does not know journeys exist): a
join, a tag, an event or an open is a durable row with a time or an id, and each scan reads
the rows written after its stored cursor (`JourneyCursor`), one statement per trigger type,
then calls `enroll` in bulk. A scan's cursor is saved in the transaction of the enrollments
it led to; if `enroll` commits on its own and the scan dies before its cursor, the repeated
window is harmless: an enrollment entered after a trigger's moment already answered it.

Entry point: `scan_triggers(now=None) -> dict[str, int]` (the scheduler's job). The scans are
in `trigger_scans` and `date_triggers`; candidates are checked and enrolled by `candidates`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.journeys.candidates import Armed, Candidate, enroll_candidates
from mailapp.journeys.date_triggers import scan_dates
from mailapp.journeys.trigger_scans import (
    scan_engagement,
    scan_events,
    scan_list_joined,
    scan_not_opened,
    scan_segments,
    scan_tags,
)
from mailapp.models import Journey, JourneyStatus, JourneyVersion
from mailapp.models.base import utcnow

Scan = Callable[[list[Armed], datetime], list[Candidate]]
# (name in the counts, the trigger type it serves, the scan); every scan runs even with no
# journey of its type, so its cursor keeps up and a journey published later starts from now.
SCANS: tuple[tuple[str, str, Scan], ...] = (
    ("list_joined", "list_joined", scan_list_joined),
    ("tag_added", "tag_added", scan_tags),
    ("segment_entered", "segment_entered", scan_segments),
    ("event", "event", scan_events),
    ("engagement", "engagement", scan_engagement),
    ("not_opened", "engagement", scan_not_opened),
    ("date", "date", scan_dates),
)


def armed_journeys() -> dict[str, list[Armed]]:
    """Running journeys by trigger type, with the trigger of their published version."""
    rows = db.session.execute(
        sa.select(
            Journey.id, Journey.project_id, JourneyVersion.published_at, JourneyVersion.trigger
        )
        .join(JourneyVersion, JourneyVersion.id == Journey.published_version_id)
        .where(Journey.status == JourneyStatus.ACTIVE)
        .order_by(Journey.id)
    )
    armed: dict[str, list[Armed]] = defaultdict(list)
    for journey_id, project_id, published_at, trigger in rows:
        if isinstance(trigger, dict) and isinstance(trigger.get("type"), str):
            armed[trigger["type"]].append(Armed(journey_id, project_id, published_at, trigger))
    return armed


def scan_triggers(*, now: datetime | None = None) -> dict[str, int]:
    """Run every trigger scan once, each in its own transaction; how many each enrolled."""
    now = now or utcnow()
    armed = armed_journeys()
    counts: dict[str, int] = {}
    for name, kind, scan in SCANS:
        counts[name] = enroll_candidates(scan(armed.get(kind, []), now), now)
        db.session.commit()
    return counts
