"""Journeys in a marketer's words: a status, a trigger and a step as sentences, and what the
builder's pickers offer for one project (lists, tags, segments, templates, senders ...)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mailapp.admin.display import viewer_zone
from mailapp.audience.segments.choices import attribute_choices, tag_choices
from mailapp.extensions import db
from mailapp.models import Campaign, List, Segment, Sender, Template, WebhookEndpoint

ACTIONS = {"opened": "opened", "clicked": "clicked a link in", "not_opened": "did not open"}


def _names(model: Any, project_id: int, label: Any) -> dict[int, str]:
    rows = db.session.execute(
        sa.select(model.id, label).where(model.project_id == project_id).order_by(label)
    ).all()
    return dict(rows)


def status_words(journey: Any, published_at: datetime | None) -> str:
    """'Running since 3 Dec', 'Paused', 'Stopped' or 'Draft'."""
    status = getattr(journey.status, "value", journey.status)
    if status == "active":
        if published_at is None:
            return "Running"
        local = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
        return f"Running since {local.astimezone(viewer_zone()).strftime('%-d %b')}"
    return {"paused": "Paused", "stopped": "Stopped"}.get(status, "Draft")


def trigger_words(trigger: dict | None, names: dict[str, dict[int, str]]) -> str:
    """The trigger as a sentence: 'When someone joins Newsletter'."""
    trigger = trigger or {}
    kind = trigger.get("type")

    def named(table: str, key: str, missing: str) -> str:
        return names.get(table, {}).get(trigger.get(key) or 0) or missing

    if kind == "list_joined":
        return f"When someone joins {named('lists', 'list_id', '(pick a list)')}"
    if kind == "tag_added":
        return f"When the tag “{trigger.get('tag') or '(pick a tag)'}” is added to someone"
    if kind == "segment_entered":
        return f"When someone enters the segment {named('segments', 'segment_id', '(pick one)')}"
    if kind == "date":
        days = int(trigger.get("offset_days") or 0)
        when = "On" if days == 0 else f"{-days} days before" if days < 0 else f"{days} days after"
        field = trigger.get("attribute") or "(pick a date field)"
        yearly = ", every year" if trigger.get("yearly") else ""
        return f"{when} the contact's {field}, at {trigger.get('time') or '09:00'}{yearly}"
    if kind == "event":
        return f"When your system reports the event “{trigger.get('name') or '(name it)'}”"
    if kind == "engagement":
        action = ACTIONS.get(trigger.get("action"), "opened")
        campaign = named("campaigns", "campaign_id", "(pick a campaign)")
        return f"When someone {action} {campaign} within {trigger.get('within_days') or 3} days"
    if kind == "manual":
        return "Only contacts you add by hand or through the API"
    return "No trigger yet"


def project_names(project_id: int) -> dict[str, dict[int, str]]:
    """Id -> name of what triggers and steps refer to, for sentences."""
    return {
        "lists": _names(List, project_id, List.name),
        "segments": _names(Segment, project_id, Segment.name),
        "campaigns": _names(Campaign, project_id, Campaign.name),
        "templates": _names(Template, project_id, Template.name),
    }


def builder_choices(project_id: int) -> dict[str, Any]:
    """Everything the builder's pickers list for this project."""
    names = project_names(project_id)
    published = set(
        db.session.scalars(
            sa.select(Template.id).where(
                Template.project_id == project_id, Template.published_version_id.is_not(None)
            )
        )
    )
    senders = db.session.execute(
        sa.select(Sender.id, Sender.name, Sender.from_email)
        .where(Sender.project_id == project_id)
        .order_by(Sender.name)
    ).all()
    hooks = db.session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.url)
        .where(WebhookEndpoint.project_id == project_id)
        .order_by(WebhookEndpoint.id)
    ).all()
    segments = db.session.execute(
        sa.select(Segment.id, Segment.name, Segment.rule)
        .where(Segment.project_id == project_id)
        .order_by(Segment.name)
    ).all()
    attributes = attribute_choices(project_id)
    campaigns = dict(names["campaigns"])
    if hasattr(Campaign, "journey_version_id"):  # a journey's own emails are not campaigns
        own = db.session.scalars(
            sa.select(Campaign.id).where(
                Campaign.project_id == project_id, Campaign.journey_version_id.is_not(None)
            )
        )
        for campaign_id in own:
            campaigns.pop(campaign_id, None)
    return {
        "lists": [{"id": i, "name": n} for i, n in names["lists"].items()],
        "segments": [{"id": i, "name": n, "rule": r} for i, n, r in segments],
        "campaigns": [{"id": i, "name": n} for i, n in campaigns.items()],
        "templates": [
            {"id": i, "name": n, "published": i in published} for i, n in names["templates"].items()
        ],
        "senders": [{"id": i, "name": f"{n} <{e}>"} for i, n, e in senders],
        "webhooks": [{"id": i, "name": u} for i, u in hooks],
        "tags": tag_choices(project_id),
        "attributes": [a["key"] for a in attributes],
        "date_attributes": [a["key"] for a in attributes if a["kind"] == "attribute_date"],
    }


def _duration(minutes: Any) -> str:
    minutes = int(minutes or 0)
    if minutes and minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day" if days == 1 else f"{days} days"
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def step_words(
    key: str, graph: dict, names: dict[str, dict[int, str]], kind: str | None = None
) -> str:
    """One step as the builder's card says it: 'Send “Welcome”', 'Wait 2 days' ..."""
    step = (graph.get("steps") or {}).get(key) or {"type": kind}
    kind = step.get("type")
    template = names.get("templates", {}).get(step.get("template_id") or 0, "an email")
    if kind == "email":
        return f"Send “{template}”"
    if kind == "wait":
        if step.get("mode") == "until":
            days = step.get("weekdays") or []
            on = ", ".join(WEEKDAYS[d] for d in days if d in range(7)) or "any day"
            return f"Wait until {on} at {step.get('time') or '09:00'}"
        if step.get("mode") == "event":
            limit = _duration(step.get("timeout_minutes"))
            return f"Wait up to {limit} for “{step.get('event')}”"
        return f"Wait {_duration(step.get('minutes'))}"
    if kind == "condition":
        rule = step.get("rule") or {}
        if "engagement" in rule:
            spec = rule["engagement"] or {}
            shown = step_words(spec.get("step") or "", graph, names).removeprefix("Send ")
            verb = "clicked a link in" if spec.get("action") == "clicked" else "opened"
            return f"Has {verb} {shown}?"
        return "Yes / no question"
    return STEP_NAMES.get(kind, str(kind))


def outcome_words(question: str, kind: str, outcome: str | None, done: bool) -> str:
    """Why a walked step went the way it did: 'Has opened “Welcome”? → yes', 'Sent' ..."""
    outcome = outcome or ""
    if kind == "condition" and outcome in ("yes", "no"):
        return f"{question} → {outcome}"
    if outcome.startswith("branch:"):
        return f"Placed at random in branch {outcome.removeprefix('branch:').upper()}"
    if kind == "wait":
        return "Waited" if done else "Waits until then"
    ahead = {
        "would send": "The email would go out then",
        "would update": "Would be updated",
        "would call": "The webhook would be called",
    }
    if outcome in ahead:
        return ahead[outcome]
    if kind in ("goal", "exit") and not done:
        return "Leaves the journey here"
    return outcome[:1].upper() + outcome[1:]


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
STEP_NAMES = {
    "split": "Random split",
    "update": "Update the contact",
    "webhook": "Tell another system (webhook)",
    "goal": "Goal reached",
    "exit": "Leave the journey",
}
