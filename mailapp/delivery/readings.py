"""An audience's size for the launch review: counted in the request when it is small, and by a
worker, which keeps its count for a few minutes, when it is large.

Counting an audience exactly reads every contact it may hold: about 0.8 s at a million
contacts on a small machine, past what a page may take. So when the counts the database
already keeps say the audience may hold BACKGROUND_FROM people or more (its lists' confirmed
members, its segment's last count, the earlier campaign's recipients), the review asks a
worker to count (`tasks.count_audience`) and says it is counting; the page asks again and
shows the size once the worker has kept it in Redis, with when it was counted. Smaller
audiences are counted in the request. A kept reading lasts READING_TTL seconds; the confirmed
size is compared again when the campaign is prepared, so an aged reading can never send to
people nobody confirmed (the campaign pauses and says so).

Without Redis the review counts in the request, slowly but correctly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

import redis
import sqlalchemy as sa

from mailapp import tasks
from mailapp.delivery.recipients import audience_zones, remember_zones
from mailapp.extensions import db, get_redis
from mailapp.models import Campaign, ListMemberCount, MembershipStatus, Segment
from mailapp.models.base import utcnow

log = logging.getLogger(__name__)

BACKGROUND_FROM = 200_000
READING_TTL = 300  # seconds a worker's count is shown before it is counted again
COUNTING_TTL = 120  # seconds before a count asked for and never kept is asked for again


@dataclass(frozen=True)
class Reading:
    """An audience's size by time zone; `counted_at` is when a worker counted it (None:
    counted in this request)."""

    zones: list[tuple[str | None, int]]
    counted_at: datetime | None = None

    @property
    def count(self) -> int:
        return sum(count for _zone, count in self.zones)


@dataclass(frozen=True)
class Counting:
    """A worker is counting the audience, which holds at most `most` people."""

    most: int


def _key(project_id: int, audience: dict, kind: str) -> str:
    digest = hashlib.sha256(json.dumps(audience, sort_keys=True, default=str).encode())
    return f"mailapp:audience-{kind}:{project_id}:{digest.hexdigest()[:32]}"


def most_possible(project_id: int, audience: dict) -> int:
    """How many people the audience can hold at most, from counts kept already (no scan)."""
    total = 0
    if list_ids := audience.get("lists"):
        total += db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(ListMemberCount.count), 0)).where(
                ListMemberCount.project_id == project_id,
                ListMemberCount.list_id.in_(list_ids),
                ListMemberCount.status == MembershipStatus.CONFIRMED,
            )
        )
    if (segment_id := audience.get("segment_id")) is not None:
        segment = db.session.get(Segment, segment_id)
        if segment is not None and segment.project_id == project_id:
            total += segment.last_count or 0
    if (earlier := audience.get("campaign_non_openers")) is not None:
        campaign = db.session.get(Campaign, int(earlier))
        if campaign is not None and campaign.project_id == project_id:
            total += (campaign.snapshot or {}).get("recipients") or 0
    return int(total)


def kept_reading(project_id: int, audience: dict) -> Reading | None:
    raw = get_redis().get(_key(project_id, audience, "reading"))
    if raw is None:
        return None
    data = json.loads(raw)
    zones = [(zone, int(count)) for zone, count in data["zones"]]
    return Reading(zones, datetime.fromisoformat(data["counted_at"]))


def count_and_keep(project_id: int, audience: dict) -> Reading:
    """Count the audience now and keep the reading for the review (the worker's side)."""
    reading = Reading(audience_zones(project_id, audience), utcnow())
    payload = {"zones": reading.zones, "counted_at": reading.counted_at.isoformat()}
    pipe = get_redis().pipeline()
    pipe.set(_key(project_id, audience, "reading"), json.dumps(payload), ex=READING_TTL)
    pipe.delete(_key(project_id, audience, "counting"))
    pipe.execute()
    return reading


def reading_for_review(project_id: int, audience: dict) -> Reading | Counting:
    """The audience's size as the review shows it, or Counting while a worker counts it.

    A reading kept by a worker also serves the review's other questions about the audience
    (the pre-flight lines, the ETA by time zone) for the rest of the request."""
    try:
        kept = kept_reading(project_id, audience)
        most = most_possible(project_id, audience) if kept is None else 0
        if most >= BACKGROUND_FROM:
            if get_redis().set(_key(project_id, audience, "counting"), 1, nx=True, ex=COUNTING_TTL):
                tasks.count_audience(project_id, audience)
            return Counting(most)
    except redis.RedisError:
        log.warning("Redis is unavailable: counting the audience in the request")
        kept = None
    if kept is not None:
        remember_zones(project_id, audience, kept.zones)
        return kept
    return Reading(audience_zones(project_id, audience))
