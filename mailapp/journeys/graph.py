"""Checks of a journey's graph, trigger and settings: each refusal names the step and says
why, in words a marketer reads (a `Problem`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mailapp.audience.segments.rules import InvalidRule, validate_rule
from mailapp.delivery.windows import parse_hhmm
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import List, Project, Segment, Sender, Template, WebhookEndpoint

STEP_TYPES = ("email", "wait", "condition", "split", "update", "webhook", "goal", "exit")
TRIGGER_TYPES = (
    "list_joined",
    "tag_added",
    "segment_entered",
    "date",
    "event",
    "engagement",
    "manual",
)
WAIT_MODES = ("duration", "until", "event")
EVENT_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "exists")
UPDATE_ACTIONS = ("set_attribute", "add_tag", "remove_tag", "add_to_list", "remove_from_list")
REENTRY = ("once", "one_at_a_time", "after_days")
MAX_STEPS = 200


@dataclass(frozen=True)
class Problem:
    step: str | None  # None: the graph as a whole
    message: str

    def __str__(self) -> str:
        return f"step “{self.step}”: {self.message}" if self.step else self.message


def _exists(model: Any, project: Project, object_id: Any) -> bool:
    return isinstance(object_id, int) and bool(
        db.session.scalar(
            sa.select(model.id).where(model.project_id == project.id, model.id == object_id)
        )
    )


def targets(step: dict) -> list[str | None]:
    """The step keys a step may lead to (None: the end)."""
    kind = step.get("type")
    if kind == "condition":
        return [step.get("yes"), step.get("no")]
    if kind == "split":
        return [b.get("next") for b in step.get("branches") or [] if isinstance(b, dict)]
    if kind == "wait" and step.get("mode") == "event":
        return [step.get("next"), step.get("timeout_next")]
    if kind in ("goal", "exit"):
        return []
    return [step.get("next")]


def check_graph(graph: Any, project: Project) -> list[Problem]:
    """Everything wrong with a graph; an empty list means it can be published."""
    if not isinstance(graph, dict) or not isinstance(graph.get("steps"), dict):
        return [Problem(None, "the journey has no steps")]
    steps: dict = graph["steps"]
    if not steps:
        return [Problem(None, "the journey has no steps")]
    if len(steps) > MAX_STEPS:
        return [Problem(None, f"a journey has at most {MAX_STEPS} steps")]
    problems: list[Problem] = []
    start = graph.get("start")
    if start not in steps:
        problems.append(Problem(None, "the first step (start) is not one of the steps"))
    for key, step in steps.items():
        if not isinstance(step, dict):
            problems.append(Problem(key, "is not a step"))
            continue
        problems += [Problem(key, m) for m in _step_problems(step, steps, project)]
        for target in targets(step):
            if target is not None and target not in steps:
                problems.append(Problem(key, f"leads to “{target}”, which is not a step"))
    if not problems:
        problems += _shape_problems(start, steps)
    return problems


def _shape_problems(start: str, steps: dict) -> list[Problem]:
    """No cycles (a contact must reach an end) and no step that nobody can reach."""
    problems: list[Problem] = []
    state: dict[str, str] = {}

    def visit(key: str) -> None:
        state[key] = "open"
        for target in targets(steps[key]):
            if target is None:
                continue
            if state.get(target) == "open":
                problems.append(Problem(key, f"leads back to “{target}”: a loop never ends"))
            elif target not in state:
                visit(target)
        state[key] = "done"

    visit(start)
    for key in steps:
        if key not in state:
            problems.append(Problem(key, "no path from the start reaches this step"))
    return problems


def _step_problems(step: dict, steps: dict, project: Project) -> list[str]:
    kind = step.get("type")
    if kind not in STEP_TYPES:
        return [f"unknown step type {kind!r} (one of {', '.join(STEP_TYPES)})"]
    return _CHECKS[kind](step, steps, project)


def _email(step: dict, steps: dict, project: Project) -> list[str]:
    problems = []
    if not _exists(Template, project, step.get("template_id")):
        problems.append("choose a template of this project")
    else:
        template = db.session.get(Template, step["template_id"])
        if template.published_version_id is None:
            problems.append(f"the template “{template.name}” has no published version")
    if not _exists(Sender, project, step.get("sender_id")):
        problems.append("choose a sender of this project")
    subject = step.get("subject")
    if subject is not None and (not isinstance(subject, str) or len(subject) > 998):
        problems.append("the subject must be text of at most 998 characters")
    return problems


def _wait(step: dict, steps: dict, project: Project) -> list[str]:
    mode = step.get("mode")
    if mode == "duration":
        minutes = step.get("minutes")
        if not isinstance(minutes, int | float) or not 0 < minutes <= 366 * 24 * 60:
            return ["wait between 1 minute and a year (minutes)"]
        return []
    if mode == "until":
        days = step.get("weekdays")
        if days is not None and (
            not isinstance(days, list) or not days or any(d not in range(7) for d in days)
        ):
            return ["weekdays are 0 (Monday) to 6 (Sunday), or none for any day"]
        try:
            parse_hhmm(step.get("time") or "")
        except ServiceError as exc:
            return [str(exc)]
        return []
    if mode == "event":
        problems = []
        if not isinstance(step.get("event"), str) or not step["event"].strip():
            problems.append("name the event to wait for")
        timeout = step.get("timeout_minutes")
        if not isinstance(timeout, int | float) or not 0 < timeout <= 366 * 24 * 60:
            problems.append("say how long to wait for the event (timeout_minutes, up to a year)")
        return problems
    return [f"a wait is one of {', '.join(WAIT_MODES)}"]


def _condition(step: dict, steps: dict, project: Project) -> list[str]:
    rule = step.get("rule")
    if not isinstance(rule, dict):
        return ["a condition needs a rule"]
    if "engagement" in rule:
        spec = rule["engagement"] or {}
        target = steps.get(spec.get("step"))
        if not isinstance(target, dict) or target.get("type") != "email":
            return ["engagement must name an email step of this journey"]
        if spec.get("action") not in ("opened", "clicked"):
            return ["engagement is “opened” or “clicked”"]
        return []
    if "event_data" in rule:
        spec = rule["event_data"] or {}
        if not isinstance(spec.get("path"), str) or not spec["path"]:
            return ["event data needs a path like cart.total"]
        if spec.get("op") not in EVENT_OPS:
            return [f"event data compares with one of {', '.join(EVENT_OPS)}"]
        return []
    try:
        validate_rule(rule)
    except InvalidRule as exc:
        return [str(exc)]
    return []


def _split(step: dict, steps: dict, project: Project) -> list[str]:
    branches = step.get("branches")
    if not isinstance(branches, list) or len(branches) < 2:
        return ["a split needs at least two branches"]
    percents = [b.get("percent") if isinstance(b, dict) else None for b in branches]
    if any(not isinstance(p, int) or p < 0 for p in percents) or sum(percents) != 100:
        return ["the branches' percentages must be whole numbers adding up to 100"]
    return []


def _update(step: dict, steps: dict, project: Project) -> list[str]:
    action = step.get("action")
    if action == "set_attribute":
        name = step.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            return ["name the attribute to set (at most 64 characters)"]
        return []
    if action in ("add_tag", "remove_tag"):
        tag = step.get("tag")
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
            return ["name the tag (1-100 characters)"]
        return []
    if action in ("add_to_list", "remove_from_list"):
        if not _exists(List, project, step.get("list_id")):
            return ["choose a list of this project"]
        return []
    return [f"an update is one of {', '.join(UPDATE_ACTIONS)}"]


def _webhook(step: dict, steps: dict, project: Project) -> list[str]:
    if not _exists(WebhookEndpoint, project, step.get("endpoint_id")):
        return ["choose a webhook endpoint of this project"]
    return []


def _end(step: dict, steps: dict, project: Project) -> list[str]:
    return []


_CHECKS = {
    "email": _email,
    "wait": _wait,
    "condition": _condition,
    "split": _split,
    "update": _update,
    "webhook": _webhook,
    "goal": _end,
    "exit": _end,
}


def check_trigger(trigger: Any, project: Project) -> list[Problem]:
    """What is wrong with a trigger (empty: fine)."""
    if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
        return [Problem(None, f"the trigger is one of {', '.join(TRIGGER_TYPES)}")]
    kind = trigger["type"]
    message = None
    if kind == "list_joined" and not _exists(List, project, trigger.get("list_id")):
        message = "the trigger needs a list of this project"
    elif kind == "tag_added" and not (isinstance(trigger.get("tag"), str) and trigger["tag"]):
        message = "the trigger needs a tag"
    elif kind == "segment_entered" and not _exists(Segment, project, trigger.get("segment_id")):
        message = "the trigger needs a segment of this project"
    elif kind == "event" and not (isinstance(trigger.get("name"), str) and trigger["name"]):
        message = "the trigger needs the event's name"
    elif kind == "date":
        message = _date_problem(trigger)
    elif kind == "engagement":
        if trigger.get("action") not in ("opened", "clicked", "not_opened"):
            message = "the trigger's engagement is opened, clicked or not_opened"
        elif not isinstance(trigger.get("campaign_id"), int):
            message = "the trigger needs a campaign"
    return [Problem(None, message)] if message else []


def _date_problem(trigger: dict) -> str | None:
    if not isinstance(trigger.get("attribute"), str) or not trigger["attribute"]:
        return "the trigger needs the date attribute (like birthday)"
    if not isinstance(trigger.get("offset_days", 0), int):
        return "the offset is a whole number of days"
    try:
        parse_hhmm(trigger.get("time") or "09:00")
    except ServiceError as exc:
        return str(exc)
    return None


def check_settings(settings: Any) -> list[Problem]:
    """What is wrong with re-entry, goal and exit settings (empty: fine)."""
    if not isinstance(settings, dict):
        return [Problem(None, "settings must be an object")]
    problems = []
    if settings.get("reentry", "once") not in REENTRY:
        problems.append(Problem(None, f"re-entry is one of {', '.join(REENTRY)}"))
    if settings.get("reentry") == "after_days":
        days = settings.get("reentry_days")
        if not isinstance(days, int) or not 0 < days <= 3650:
            problems.append(Problem(None, "say after how many days a contact may enter again"))
    goal = settings.get("goal")
    if goal is not None:
        if not isinstance(goal, dict) or not ("event" in goal or "rule" in goal):
            problems.append(Problem(None, "a goal is an event or a segment rule"))
        elif "rule" in goal:
            try:
                validate_rule(goal["rule"])
            except InvalidRule as exc:
                problems.append(Problem(None, f"goal: {exc}"))
    exit_on = settings.get("exit_on_event")
    if exit_on is not None and not (isinstance(exit_on, str) and exit_on.strip()):
        problems.append(Problem(None, "exit on event names an event"))
    return problems
