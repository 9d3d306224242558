"""What each step type does to a group of enrollments standing on the same step of the same
version: set-based effects in the wake's transaction, then the step each moves to.

A handler records one ledger row per enrollment (`Run.record`: seq n, then n + 1) and
either moves it on (`Run.advance`) or parks it (a wait). Email steps add Delivery rows of
the step's backing campaign; webhook steps queue the outbound webhook (sent later, signed,
with its own retries); nothing here calls out.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailapp.audience.lists import add_memberships
from mailapp.extensions import db
from mailapp.integrations.webhooks import queue_for_endpoint
from mailapp.journeys.conditions import Judge, wait_until
from mailapp.journeys.runs import Run
from mailapp.models import (
    Contact,
    ContactTag,
    DeliveryStatus,
    EnrollmentStatus,
    List,
    ListMembership,
    MembershipStatus,
)
from mailapp.models.base import UTCDateTime
from mailapp.upserts import in_values, insert_for, json_merge


@dataclass
class Wake:
    """What one wake shares across groups: the clock, the contacts, what to write."""

    now: datetime
    contacts: dict[int, Any]  # id -> row (status, email, timezone, suppressed)
    zones: dict[int, str]  # project id -> its time zone
    campaigns: Callable[[int], dict[str, int]]  # version id -> {email step: campaign id}
    judge: Judge
    deliveries: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def _email(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    campaign_id = wake.campaigns(runs[0].version_id).get(key)
    if campaign_id is None:  # someone deleted the step's campaign: its mail cannot go
        for run in runs:
            run.record(key, "skipped: its campaign was deleted", wake.now)
            run.advance(step.get("next"), wake.now)
        return
    for run in runs:
        wake.deliveries.append(
            {
                "project_id": run.project_id,
                "campaign_id": campaign_id,
                "contact_id": run.contact_id,
                "round": run.round,
                "variant": "A",
                "scheduled_at": wake.now,
                "status": DeliveryStatus.QUEUED.value,
                "attempts": 0,
                "updated_at": wake.now,
            }
        )
        run.record(key, "sent", wake.now)
        run.advance(step.get("next"), wake.now)
    wake.count("emails", len(runs))


def _wait(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    mode = step["mode"]
    for run in runs:
        if run.status == EnrollmentStatus.WAITING.value:
            # Claimed while waiting: its time came, or (event mode) its event arrived.
            if mode == "event" and run.waiting_for is None:
                run.record(key, "event", wake.now, {"event": step["event"]})
                run.advance(step.get("next"), wake.now)
            elif mode == "event":
                run.record(key, "timeout", wake.now)
                run.waiting_for = None
                run.advance(step.get("timeout_next"), wake.now)
            else:
                run.record(key, "waited", wake.now)
                run.advance(step.get("next"), wake.now)
            continue
        run.status, run.moving = EnrollmentStatus.WAITING.value, False
        if mode == "duration":
            run.wake_at = wake.now + timedelta(minutes=float(step["minutes"]))
        elif mode == "until":
            contact = wake.contacts[run.contact_id]
            tz = contact.timezone or wake.zones.get(run.project_id) or "UTC"
            run.wake_at = wait_until(step.get("weekdays"), step["time"], tz, wake.now)
        else:
            run.wake_at = wake.now + timedelta(minutes=float(step["timeout_minutes"]))
            run.waiting_for = step["event"]
        wake.count("waiting")


def _condition(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    yes = wake.judge.matching(step["rule"], runs)
    for run in runs:
        answer = "yes" if run.id in yes else "no"
        run.record(key, answer, wake.now)
        run.advance(step.get(answer), wake.now)


def _split(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    for run in runs:
        bucket = bucket_of(run.id, key)
        index = arm(step["branches"], bucket)
        run.record(key, f"branch:{chr(ord('a') + index)}", wake.now, {"bucket": bucket})
        run.advance(step["branches"][index].get("next"), wake.now)


def bucket_of(enrollment_id: int, key: str) -> int:
    """0..99, fixed per enrollment and step: a decision made again picks the same arm."""
    return zlib.crc32(f"{enrollment_id}:{key}".encode()) % 100


def arm(branches: list[dict], bucket: int) -> int:
    """The branch whose share of 0..99 holds the bucket."""
    total = 0
    for index, branch in enumerate(branches):
        total += branch["percent"]
        if bucket < total:
            return index
    return len(branches) - 1


def _update(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    project_id = runs[0].project_id
    ids = [run.contact_id for run in runs]
    mine = sa.and_(Contact.project_id == project_id, in_values(Contact.id, ids, sa.BigInteger))
    action = step["action"]
    outcome = "updated"
    if action == "set_attribute":
        overlay = sa.literal({step["name"]: step.get("value")}, Contact.__table__.c.attributes.type)
        db.session.execute(
            sa.update(Contact.__table__)
            .where(mine)
            .values(
                attributes=json_merge(Contact.__table__.c.attributes, overlay), updated_at=wake.now
            )
        )
    elif action == "add_tag":
        db.session.execute(
            insert_for(ContactTag)
            .from_select(
                ["project_id", "contact_id", "tag", "created_at"],
                sa.select(
                    sa.literal(project_id),
                    Contact.id,
                    sa.literal(step["tag"]),
                    sa.literal(wake.now, UTCDateTime()),
                ).where(mine),
            )
            .on_conflict_do_nothing()
        )
    elif action == "remove_tag":
        db.session.execute(
            sa.delete(ContactTag).where(
                ContactTag.project_id == project_id,
                ContactTag.tag == step["tag"],
                in_values(ContactTag.contact_id, ids, sa.BigInteger),
            )
        )
    elif not db.session.scalar(
        sa.select(List.id).where(List.project_id == project_id, List.id == step["list_id"])
    ):
        outcome = "skipped: the list was deleted"
    elif action == "add_to_list":
        add_memberships(
            project_id,
            step["list_id"],
            sa.select(Contact.id).where(mine),
            MembershipStatus.CONFIRMED,
        )
    else:
        db.session.execute(
            sa.delete(ListMembership).where(
                ListMembership.project_id == project_id,
                ListMembership.list_id == step["list_id"],
                in_values(ListMembership.contact_id, ids, sa.BigInteger),
            )
        )
    for run in runs:
        run.record(key, outcome, wake.now)
        run.advance(step.get("next"), wake.now)


def _webhook(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    items = [
        {
            "journey_id": run.journey_id,
            "version_id": run.version_id,
            "step": key,
            "enrollment_id": run.id,
            "contact": {"id": run.contact_id, "email": wake.contacts[run.contact_id].email},
            "event": run.data,
        }
        for run in runs
    ]
    queued = queue_for_endpoint(runs[0].project_id, step["endpoint_id"], "journey.step", items)
    outcome = "called" if queued else "skipped: the endpoint is off or gone"
    for run in runs:
        run.record(key, outcome, wake.now)
        run.advance(step.get("next"), wake.now)
    wake.count("webhooks", queued)


def _goal(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    for run in runs:
        run.record(key, "goal", wake.now)
        run.end(EnrollmentStatus.GOAL, f"goal: {key}", wake.now)


def _exit(wake: Wake, key: str, step: dict, runs: list[Run]) -> None:
    for run in runs:
        run.record(key, "exit", wake.now)
        run.end(EnrollmentStatus.EXITED, f"exit: {key}", wake.now)


HANDLERS: dict[str, Callable[[Wake, str, dict, list[Run]], None]] = {
    "email": _email,
    "wait": _wait,
    "condition": _condition,
    "split": _split,
    "update": _update,
    "webhook": _webhook,
    "goal": _goal,
    "exit": _exit,
}
