"""Four ready-made journeys a marketer starts from: welcome series, re-engagement, birthday and
abandoned cart, each a trigger, a graph and settings in the journey contract's JSON.

The starters name no template, sender or list of a project; `starter()` fills the ones it is
given (the back office passes the project's first of each) so a new journey is close to
publishable, and the graph check names whatever is still missing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

DAY = 24 * 60


@dataclass(frozen=True)
class Starter:
    key: str
    name: str
    description: str
    trigger: dict[str, Any]
    graph: dict[str, Any]
    settings: dict[str, Any]


def _email(next_key: str | None) -> dict[str, Any]:
    return {
        "type": "email",
        "template_id": None,
        "sender_id": None,
        "subject": None,
        "next": next_key,
    }


def _wait_days(days: int, next_key: str | None) -> dict[str, Any]:
    return {"type": "wait", "mode": "duration", "minutes": days * DAY, "next": next_key}


def _opened(step: str, yes: str | None, no: str | None) -> dict[str, Any]:
    rule = {"engagement": {"step": step, "action": "opened"}}
    return {"type": "condition", "rule": rule, "yes": yes, "no": no}


STARTERS: dict[str, Starter] = {
    s.key: s
    for s in (
        Starter(
            key="welcome",
            name="Welcome series",
            description="When someone joins a list: a welcome email, two days later tips "
            "for those who opened it and a reminder for those who did not.",
            trigger={"type": "list_joined", "list_id": None},
            graph={
                "start": "welcome",
                "steps": {
                    "welcome": _email("pause"),
                    "pause": _wait_days(2, "opened"),
                    "opened": _opened("welcome", "tips", "nudge"),
                    "tips": _email(None),
                    "nudge": _email(None),
                },
            },
            settings={"reentry": "once", "goal": None},
        ),
        Starter(
            key="reengagement",
            name="Re-engagement",
            description="Contacts who did not open a campaign within 7 days get a 'we miss "
            "you' email; those who still do not open it get a tag to clean up later.",
            trigger={
                "type": "engagement",
                "campaign_id": None,
                "action": "not_opened",
                "within_days": 7,
            },
            graph={
                "start": "miss_you",
                "steps": {
                    "miss_you": _email("pause"),
                    "pause": _wait_days(5, "opened"),
                    "opened": _opened("miss_you", None, "tag"),
                    "tag": {"type": "update", "action": "add_tag", "tag": "inactive", "next": None},
                },
            },
            settings={"reentry": "after_days", "reentry_days": 90, "goal": None},
        ),
        Starter(
            key="birthday",
            name="Birthday",
            description="Every year on the contact's birthday at 9:00 in their time zone: a "
            "birthday email.",
            trigger={
                "type": "date",
                "attribute": "birthday",
                "offset_days": 0,
                "time": "09:00",
                "yearly": True,
            },
            graph={"start": "wish", "steps": {"wish": _email(None)}},
            settings={"reentry": "after_days", "reentry_days": 300, "goal": None},
        ),
        Starter(
            key="abandoned_cart",
            name="Abandoned cart",
            description="When your shop reports an abandoned cart: wait 2 hours, then a "
            "reminder unless they bought; a second one a day later. Buying ends it.",
            trigger={"type": "event", "name": "cart_abandoned"},
            graph={
                "start": "pause",
                "steps": {
                    "pause": {
                        "type": "wait",
                        "mode": "duration",
                        "minutes": 120,
                        "next": "reminder",
                    },
                    "reminder": _email("bought"),
                    "bought": {
                        "type": "wait",
                        "mode": "event",
                        "event": "purchase",
                        "timeout_minutes": DAY,
                        "next": None,
                        "timeout_next": "last_call",
                    },
                    "last_call": _email(None),
                },
            },
            settings={"reentry": "one_at_a_time", "goal": {"event": "purchase"}},
        ),
    )
}


def starter(
    key: str,
    *,
    template_id: int | None = None,
    sender_id: int | None = None,
    list_id: int | None = None,
) -> Starter:
    """A fresh copy of a starter with the given template, sender and list filled in."""
    base = STARTERS[key]
    trigger, graph = copy.deepcopy(base.trigger), copy.deepcopy(base.graph)
    if "list_id" in trigger:
        trigger["list_id"] = list_id
    for step in graph["steps"].values():
        if step["type"] == "email":
            step["template_id"], step["sender_id"] = template_id, sender_id
    return Starter(
        base.key, base.name, base.description, trigger, graph, copy.deepcopy(base.settings)
    )
