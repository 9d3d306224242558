"""The trigger scans: each reads one durable table after its cursor, in one statement, and
says which contacts should start which running journey (`Candidate`s).

Time cursors read the window (cursor, now - SETTLE]; id cursors read ids after theirs in id
order, at most BATCH rows a tick. A scan with no journey of its type still moves its cursor,
so a journey published later starts from then, never from history.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa

from mailapp.audience.segments.rules import InvalidRule
from mailapp.audience.segments.store import segment_query
from mailapp.extensions import db
from mailapp.journeys.candidates import EVER, SETTLE, Armed, Candidate, literal_rows
from mailapp.journeys.cursors import read_cursor, read_time, save_cursor, save_time
from mailapp.journeys.engine import deliver_event
from mailapp.models import (
    CampaignEngagement,
    Contact,
    ContactTag,
    Delivery,
    DeliveryStatus,
    Enrollment,
    Event,
    EventType,
    JourneyEvent,
    ListMembership,
    MembershipStatus,
    Project,
    Segment,
)
from mailapp.models.base import UTCDateTime
from mailapp.models.journey import OPEN_ENROLLMENTS
from mailapp.upserts import in_values

log = logging.getLogger(__name__)

BATCH = 10_000
ACTIONS = {"opened": (EventType.OPEN, EventType.CLICK), "clicked": (EventType.CLICK,)}


def _window(key: str, now: datetime) -> tuple[datetime, datetime] | None:
    """(start, end] for a time cursor, saved as read; None on the first run or no time passed."""
    end = now - SETTLE
    start = read_time(key, end)
    if end <= start:
        if read_cursor(key) is None:
            save_time(key, end, now)
        return None
    save_time(key, end, now)
    return start, end


def _between(column: sa.ColumnElement, start: datetime, end: datetime) -> sa.ColumnElement:
    return sa.and_(column > start, column <= end)


def scan_list_joined(journeys: list[Armed], now: datetime) -> list[Candidate]:
    """Confirmed memberships: a double opt-in list's after the click, others' on joining."""
    window = _window("list_joined", now)
    journeys = [j for j in journeys if isinstance(j.trigger.get("list_id"), int)]
    if window is None or not journeys:
        return []
    armed = literal_rows(
        [(j.journey_id, j.project_id, j.trigger["list_id"], j.published_at) for j in journeys],
        [
            ("journey_id", sa.Integer()),
            ("project_id", sa.Integer()),
            ("list_id", sa.Integer()),
            ("since", UTCDateTime()),
        ],
    )
    joined = sa.func.coalesce(ListMembership.confirmed_at, ListMembership.created_at)
    rows = db.session.execute(
        sa.select(armed.c.journey_id, ListMembership.contact_id, joined)
        .join(
            armed,
            sa.and_(
                armed.c.list_id == ListMembership.list_id,
                armed.c.project_id == ListMembership.project_id,
            ),
        )
        .where(
            ListMembership.status == MembershipStatus.CONFIRMED,
            _between(joined, *window),
            joined >= armed.c.since,
        )
        .order_by(joined)
    )
    return [Candidate(j, c, at, {}) for j, c, at in rows]


def scan_tags(journeys: list[Armed], now: datetime) -> list[Candidate]:
    """Tags given since the cursor (and since the journey was published)."""
    journeys = [j for j in journeys if isinstance(j.trigger.get("tag"), str)]
    if not journeys:
        return []
    end = now - SETTLE
    # The first run starts at the earliest publication: a tag given after it counts.
    start = read_time("tag_added", min(j.published_at for j in journeys))
    if end <= start:
        return []
    save_time("tag_added", end, now)
    armed = literal_rows(
        [(j.journey_id, j.project_id, j.trigger["tag"], j.published_at) for j in journeys],
        [
            ("journey_id", sa.Integer()),
            ("project_id", sa.Integer()),
            ("tag", sa.String()),
            ("since", UTCDateTime()),
        ],
    )
    rows = db.session.execute(
        sa.select(armed.c.journey_id, ContactTag.contact_id, ContactTag.created_at)
        .join(
            armed,
            sa.and_(armed.c.project_id == ContactTag.project_id, armed.c.tag == ContactTag.tag),
        )
        .where(_between(ContactTag.created_at, start, end), ContactTag.created_at >= armed.c.since)
        .order_by(ContactTag.created_at)
    )
    return [Candidate(j, c, at, {}) for j, c, at in rows]


def _mentions_lists(rule: object) -> bool:
    """Whether a segment rule has a list condition anywhere in its tree."""
    if isinstance(rule, dict):
        return rule.get("field") == "list" or any(_mentions_lists(v) for v in rule.values())
    if isinstance(rule, list):
        return any(_mentions_lists(v) for v in rule)
    return False


def _changed_contacts(
    project_id: int, start: datetime, end: datetime, *, lists: bool
) -> sa.Select | sa.CompoundSelect:
    """Contacts of a project whose row (or, with `lists`, list memberships) changed in
    (start, end]: the only ones whose match with a segment can have changed."""
    changed = sa.select(Contact.id).where(
        Contact.project_id == project_id, _between(Contact.updated_at, start, end)
    )
    if not lists:
        return changed
    memberships = sa.select(ListMembership.contact_id).where(
        ListMembership.project_id == project_id,
        sa.or_(
            _between(ListMembership.created_at, start, end),
            _between(ListMembership.confirmed_at, start, end),
            _between(ListMembership.unsubscribed_at, start, end),
        ),
    )
    return sa.union(changed, memberships)


def scan_segments(journeys: list[Armed], now: datetime) -> list[Candidate]:
    """Contacts changed since the cursor that now match the segment and are not inside."""
    window = _window("segment_entered", now)
    if window is None or not journeys:
        return []
    segments = {
        (s.project_id, s.id): s.rule
        for s in db.session.scalars(
            sa.select(Segment).where(
                Segment.id.in_([j.trigger.get("segment_id") for j in journeys])
            )
        )
    }
    selects = []
    for journey in journeys:
        rule = segments.get((journey.project_id, journey.trigger.get("segment_id")))
        if rule is None:
            continue  # the segment is gone: the journey waits for someone to fix it
        try:
            query = segment_query(journey.project_id, rule)
        except InvalidRule:
            log.warning("journey %s: its segment's rule cannot be evaluated", journey.journey_id)
            continue
        selects.append(
            query.add_columns(sa.literal(journey.journey_id).label("journey_id")).where(
                Contact.id.in_(
                    _changed_contacts(journey.project_id, *window, lists=_mentions_lists(rule))
                ),
                ~sa.exists().where(
                    Enrollment.journey_id == journey.journey_id,
                    Enrollment.contact_id == Contact.id,
                    Enrollment.status.in_(OPEN_ENROLLMENTS),
                ),
            )
        )
    if not selects:
        return []
    rows = db.session.execute(selects[0] if len(selects) == 1 else sa.union_all(*selects))
    return [Candidate(j, c, window[0], {}) for c, j in rows]


def scan_events(journeys: list[Armed], now: datetime) -> list[Candidate]:
    """Posted events: each wakes the enrollments waiting for it, and starts event journeys."""
    last = read_cursor("events")
    if last is None:
        save_cursor("events", str(_max_id(JourneyEvent)), now)
        return []
    after = int(last)
    rows = db.session.execute(
        sa.select(
            JourneyEvent.id,
            JourneyEvent.project_id,
            JourneyEvent.contact_id,
            JourneyEvent.name,
            JourneyEvent.data,
            JourneyEvent.created_at,
        )
        .where(JourneyEvent.id > after, JourneyEvent.created_at <= now - SETTLE)
        .order_by(JourneyEvent.id)
        .limit(BATCH)
    ).all()
    if not rows:
        return []
    save_cursor("events", str(rows[-1].id), now)
    starts: dict[tuple[int, str], list[int]] = defaultdict(list)
    for journey in journeys:
        if isinstance(journey.trigger.get("name"), str):
            starts[(journey.project_id, journey.trigger["name"])].append(journey.journey_id)
    inside = _inside({row.contact_id for row in rows})
    candidates = []
    for row in rows:
        if (row.project_id, row.contact_id) in inside:
            # First the enrollments already in, so a journey this event starts is not woken.
            project = db.session.get(Project, row.project_id)
            deliver_event(project, row.contact_id, row.name, row.data or {}, now=now)
        for journey_id in starts.get((row.project_id, row.name), []):
            candidates.append(Candidate(journey_id, row.contact_id, row.created_at, row.data or {}))
    return candidates


def _inside(contact_ids: set[int]) -> set[tuple[int, int]]:
    """(project, contact) of those among the contacts with an open enrollment somewhere: only
    their events can reach a goal, an exit or a wait."""
    rows = db.session.execute(
        sa.select(Enrollment.project_id, Enrollment.contact_id)
        .where(
            in_values(Enrollment.contact_id, sorted(contact_ids), sa.BigInteger),
            Enrollment.status.in_(OPEN_ENROLLMENTS),
        )
        .distinct()
    )
    return {(project_id, contact_id) for project_id, contact_id in rows}


def _max_id(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.max(model.id))) or 0


def scan_engagement(journeys: list[Armed], now: datetime) -> list[Candidate]:
    """Human opens and clicks of a campaign (a click counts as an open): once per contact."""
    last = read_cursor("engagement")
    if last is None:
        save_cursor("engagement", str(_max_id(Event)), now)
        return []
    watched: dict[tuple[int, str], list[int]] = defaultdict(list)
    for journey in journeys:
        action, campaign_id = journey.trigger.get("action"), journey.trigger.get("campaign_id")
        if action in ACTIONS and isinstance(campaign_id, int):
            for kind in ACTIONS[action]:
                watched[(campaign_id, kind.value)].append(journey.journey_id)
    query = sa.select(Event.id, Event.campaign_id, Event.contact_id, Event.type).where(
        Event.id > int(last)
    )
    if not watched:
        save_cursor("engagement", str(max(int(last), _max_id(Event))), now)
        return []
    rows = db.session.execute(
        query.where(
            Event.campaign_id.in_({campaign_id for campaign_id, _ in watched}),
            Event.type.in_(list(ACTIONS["opened"])),
            Event.is_machine.is_(False),
            Event.contact_id.is_not(None),
        )
        .order_by(Event.id)
        .limit(BATCH)
    ).all()
    if len(rows) < BATCH:
        # Everything up to the newest id was read (other campaigns' rows included).
        save_cursor("engagement", str(max([int(last), _max_id(Event), *[r.id for r in rows]])), now)
    else:
        save_cursor("engagement", str(rows[-1].id), now)
    return [
        Candidate(journey_id, row.contact_id, EVER, {"campaign_id": row.campaign_id})
        for row in rows
        for journey_id in watched.get((row.campaign_id, EventType(row.type).value), [])
    ]


def scan_not_opened(journeys: list[Armed], now: datetime) -> list[Candidate]:
    """Sent deliveries of the campaign N days old with no open (nor click): once per contact."""
    window = _window("not_opened", now)
    journeys = [
        j
        for j in journeys
        if j.trigger.get("action") == "not_opened" and isinstance(j.trigger.get("campaign_id"), int)
    ]
    if window is None or not journeys:
        return []
    selects = []
    for journey in journeys:
        days = timedelta(days=int(journey.trigger.get("within_days") or 3))
        campaign_id = journey.trigger["campaign_id"]
        selects.append(
            sa.select(
                Delivery.contact_id, sa.literal(journey.journey_id).label("journey_id")
            ).where(
                Delivery.project_id == journey.project_id,
                Delivery.campaign_id == campaign_id,
                Delivery.status == DeliveryStatus.SENT,
                _between(Delivery.sent_at, window[0] - days, window[1] - days),
                ~sa.exists().where(
                    CampaignEngagement.campaign_id == campaign_id,
                    CampaignEngagement.contact_id == Delivery.contact_id,
                    sa.or_(
                        CampaignEngagement.first_opened_at.is_not(None),
                        CampaignEngagement.first_clicked_at.is_not(None),
                    ),
                ),
            )
        )
    rows = db.session.execute(selects[0] if len(selects) == 1 else sa.union_all(*selects))
    campaigns = {j.journey_id: j.trigger["campaign_id"] for j in journeys}
    return [Candidate(j, c, EVER, {"campaign_id": campaigns[j]}) for c, j in rows]
