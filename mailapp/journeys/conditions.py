"""Condition steps answered for a whole group at once, and the instants waits end at.

A segment rule is compiled to SQL and asked once for the group's contacts; engagement reads
the opens or clicks of this enrollment's own delivery of an earlier email step; event data
compares a value of the enrollment's data in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from mailapp.audience.segments.rules import compile_rule
from mailapp.delivery.windows import DAY_NAMES, parse_hhmm, zone
from mailapp.extensions import db
from mailapp.journeys.runs import Run
from mailapp.models import Contact, Delivery, Event, EventType
from mailapp.upserts import dialect, in_values

_MISSING = object()


def wait_until(weekdays: list[int] | None, hhmm: str, tz_name: str, now: datetime) -> datetime:
    """The next instant after now when the wall clock in tz shows hhmm on one of weekdays."""
    at = parse_hhmm(hhmm)
    days = ",".join(DAY_NAMES[d] for d in sorted(set(weekdays))) if weekdays else "*"
    trigger = CronTrigger(day_of_week=days, hour=at.hour, minute=at.minute, timezone=zone(tz_name))
    return trigger.get_next_fire_time(None, now).astimezone(UTC)


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path of nested objects, or _MISSING."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def compare(value: Any, op: str, expected: Any) -> bool:
    """Event data's comparison; a missing value or mismatched types answer no."""
    if op == "exists":
        return value is not _MISSING and value is not None
    if value is _MISSING:
        return False
    if op == "contains":
        if isinstance(value, str):
            return str(expected) in value
        return isinstance(value, list) and expected in value
    if op in ("eq", "ne"):
        same = value == expected or (
            _number(value) is not None and _number(value) == _number(expected)
        )
        return same if op == "eq" else not same
    left, right = _number(value), _number(expected)
    if left is None or right is None:
        left, right = (str(value), str(expected)) if isinstance(value, str) else (None, None)
    if left is None:
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Judge:
    """Answers conditions for groups of enrollments (all of one version and step)."""

    campaigns: Callable[[int], dict[str, int]]  # version id -> {email step: campaign id}

    def matching(self, rule: dict, runs: list[Run]) -> set[int]:
        """The ids of the enrollments among runs for which the rule holds."""
        if "event_data" in rule:
            spec = rule["event_data"]
            return {
                run.id
                for run in runs
                if compare(lookup(run.data, spec["path"]), spec["op"], spec.get("value"))
            }
        if "engagement" in rule:
            return self._engaged(rule["engagement"], runs)
        project_id = runs[0].project_id
        ids = set(
            db.session.scalars(
                sa.select(Contact.id).where(
                    Contact.project_id == project_id,
                    in_values(Contact.id, [run.contact_id for run in runs], sa.BigInteger),
                    compile_rule(project_id, rule, dialect()),
                )
            )
        )
        return {run.id for run in runs if run.contact_id in ids}

    def _engaged(self, spec: dict, runs: list[Run]) -> set[int]:
        campaign_id = self.campaigns(runs[0].version_id).get(spec["step"])
        if campaign_id is None:
            return set()
        kinds = (
            [EventType.CLICK] if spec["action"] == "clicked" else [EventType.OPEN, EventType.CLICK]
        )
        engaged = set(
            db.session.execute(
                sa.select(Delivery.contact_id, Delivery.round).where(
                    Delivery.campaign_id == campaign_id,
                    in_values(Delivery.contact_id, [run.contact_id for run in runs], sa.BigInteger),
                    sa.exists().where(
                        Event.delivery_id == Delivery.id,
                        Event.type.in_(kinds),
                        Event.is_machine.is_(False),
                    ),
                )
            ).all()
        )
        return {run.id for run in runs if (run.contact_id, run.round) in engaged}
