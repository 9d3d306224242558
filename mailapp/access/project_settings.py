"""The project's sending rules: read with their defaults, change them validated and audited.

The send path reads these keys from `Project.settings` (delivery.batches, delivery.ratelimits,
feedback.policy, feedback.events, feedback.tracking, audience.imports); this module is the one
place that writes them, for the back office, the API and the CLI alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.projects import DEFAULT_SETTINGS
from mailapp.access.validation import FieldChecker
from mailapp.extensions import db
from mailapp.models import AuditLog, Project
from mailapp.models.bounce_reason import DEFAULT_BOUNCE_ACTIONS, BounceAction

TRACKING_MODES = ("full", "anonymous", "off")

# One line per setting, shown next to its field and by `flask settings show`.
SETTING_HELP: Mapping[str, str] = {
    "quiet_hours": "No marketing mail between these times in each contact's own time zone "
    "(the project's zone when a contact has none); mail due then waits until the end. "
    "Default: none.",
    "frequency_cap_7d": "At most this many marketing messages per contact in any 7 days; "
    "a contact over it is skipped for this campaign. Default: no cap.",
    "quota_messages_per_day": "Messages the whole project may send per day (UTC), all "
    "senders together; the rest waits for tomorrow. Default: no quota.",
    "quota_import_rows_per_day": "Rows that contact imports may bring in per day; a bigger "
    "import is refused. Default: no quota.",
    "tracking": "full: opens and clicks per contact; anonymous: counted per campaign without "
    "naming the contact; off: no open pixel and links left as written. Default: full.",
    "soft_bounce_limit": "Suppress an address after this many soft bounces within the window "
    "below. Default: 3.",
    "soft_bounce_window_days": "The window, in days, in which soft bounces are counted. "
    "Default: 30.",
    "retry_hours": "Keep retrying mail a receiving server deferred (4xx) for this many hours "
    "after its first deferral, waiting longer between tries, then give up. Throttling "
    "(421) is not counted against the address. Default: 120 (5 days).",
    "event_retention_days": "Opens, clicks and other events older than this are deleted "
    "(reports keep their totals). Default: 400.",
    "allow_self_approval": "Let the author of a template draft publish it; off means a "
    "second person with the publish permission must review it. Default: off.",
    "bounce_actions": "What a bounce does to the address, per reason: suppress it at once, "
    "count it toward the soft-bounce limit, or only record it. Default: addresses that do not "
    "exist are suppressed; blocks, spam filters, throttling and authentication failures (about "
    "the sender, not the address) are only recorded; the rest count.",
}
BOUNCE_PREFIX = "bounce_actions."

INTEGER_RANGES: Mapping[str, tuple[int, int, bool]] = {
    # field: (lowest, highest, may be empty)
    "frequency_cap_7d": (1, 100, True),
    "quota_messages_per_day": (1, 100_000_000, True),
    "quota_import_rows_per_day": (1, 100_000_000, True),
    "soft_bounce_limit": (1, 50, False),
    "soft_bounce_window_days": (1, 365, False),
    "retry_hours": (1, 720, True),
    "event_retention_days": (30, 3650, False),
}
QUIET_PARTS = ("quiet_hours_start", "quiet_hours_end")


def sending_settings(project: Project) -> dict[str, Any]:
    """Every enforced setting of a project, with the default where none was set."""
    stored = project.settings or {}
    values = {key: stored.get(key, default) for key, default in DEFAULT_SETTINGS.items()}
    # A reason added after the project chose its rules gets its default.
    values["bounce_actions"] = {**DEFAULT_BOUNCE_ACTIONS, **(values["bounce_actions"] or {})}
    return values


def update_sending_settings(
    project: Project, changes: Mapping[str, Any], *, actor: Actor
) -> dict[str, dict[str, Any]]:
    """Validate and save some settings; return {key: {"old", "new"}} of what changed.

    Keys are those of DEFAULT_SETTINGS; quiet hours may also come as `quiet_hours_start` and
    `quiet_hours_end` (both empty: none). One wrong field refuses the whole change.
    """
    locked = db.session.execute(
        sa.select(Project)
        .where(Project.id == project.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    current = sending_settings(locked)
    wanted = _parse(current, changes)
    changed = {
        key: {"old": current[key], "new": value}
        for key, value in wanted.items()
        if current[key] != value and key != "bounce_actions"
    }
    # Per reason, so the audit and the page name the one rule that changed.
    for reason, action in (wanted.get("bounce_actions") or {}).items():
        if current["bounce_actions"].get(reason) != action:
            old = current["bounce_actions"].get(reason)
            changed[BOUNCE_PREFIX + reason] = {"old": old, "new": action}
    if changed:
        new_values = {k: c["new"] for k, c in changed.items() if not k.startswith(BOUNCE_PREFIX)}
        if any(k.startswith(BOUNCE_PREFIX) for k in changed):
            new_values["bounce_actions"] = wanted["bounce_actions"]
        locked.settings = {**(locked.settings or {}), **new_values}
        record_audit(
            actor,
            "project.settings",
            project_id=locked.id,
            obj=locked,
            context={"changes": changed},
        )
    db.session.commit()
    return changed


def _parse(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    check = FieldChecker()
    wanted: dict[str, Any] = {}
    for key, raw in changes.items():
        if key in INTEGER_RANGES:
            low, high, optional = INTEGER_RANGES[key]
            wanted[key] = check.integer(key, raw, low, high, optional=optional)
        elif key == "tracking":
            wanted[key] = check.choice(key, raw, TRACKING_MODES)
        elif key == "allow_self_approval":
            wanted[key] = check.boolean(key, raw)
        elif key == "quiet_hours":
            wanted[key] = _quiet_hours(check, raw)
        elif key == "bounce_actions" or key.startswith(BOUNCE_PREFIX):
            wanted["bounce_actions"] = _bounce_actions(
                check, wanted.get("bounce_actions") or current["bounce_actions"], key, raw
            )
        elif key not in QUIET_PARTS:
            check.fail(key, f"not a setting (settings: {', '.join(DEFAULT_SETTINGS)})")
    if any(part in changes for part in QUIET_PARTS):
        old = current["quiet_hours"] or {}
        wanted["quiet_hours"] = _quiet_hours(
            check,
            {
                "start": changes.get("quiet_hours_start", old.get("start")),
                "end": changes.get("quiet_hours_end", old.get("end")),
            },
            prefix="quiet_hours_",
        )
    check.raise_if_any()
    return wanted


def _bounce_actions(check: FieldChecker, base: Mapping[str, str], key: str, raw: Any) -> dict:
    """The per-reason rules with `raw` applied: {reason: action} or one reason's action."""
    rules = {**DEFAULT_BOUNCE_ACTIONS, **base}
    given = raw if key == "bounce_actions" else {key[len(BOUNCE_PREFIX) :]: raw}
    if not isinstance(given, Mapping):
        check.fail(key, 'an object {"<reason>": "suppress" | "count" | "record"}')
        return rules
    actions = tuple(a.value for a in BounceAction)
    for reason, action in given.items():
        field = BOUNCE_PREFIX + str(reason)
        if reason not in DEFAULT_BOUNCE_ACTIONS:
            check.fail(field, f"not a bounce reason (reasons: {', '.join(DEFAULT_BOUNCE_ACTIONS)})")
        elif (value := check.choice(field, action, actions)) is not None:
            rules[reason] = value
    return rules


def _quiet_hours(check: FieldChecker, raw: Any, prefix: str = "quiet_hours.") -> dict | None:
    if raw is None or raw == "" or raw == {}:
        return None
    if not isinstance(raw, Mapping):
        check.fail("quiet_hours", 'an object {"start": "21:00", "end": "08:00"} or null')
        return None
    start, end = raw.get("start"), raw.get("end")
    blank = [not (v or "").strip() if isinstance(v, str) else v is None for v in (start, end)]
    if all(blank):
        return None
    if any(blank):
        missing = "end" if blank[1] else "start"
        check.fail(f"{prefix}{missing}", "give both a start and an end, or neither")
        return None
    start, end = check.hhmm(f"{prefix}start", start), check.hhmm(f"{prefix}end", end)
    if start and end and start == end:
        check.fail(f"{prefix}end", "must differ from the start")
        return None
    return {"start": start, "end": end} if start and end else None


def recent_changes(
    project_id: int, action: str, *, object_id: int | None = None, limit: int = 5
) -> list[AuditLog]:
    """The latest audit entries of one kind of settings change, newest first."""
    query = sa.select(AuditLog).where(AuditLog.project_id == project_id, AuditLog.action == action)
    if object_id is not None:
        query = query.where(AuditLog.object_id == str(object_id))
    return list(db.session.scalars(query.order_by(AuditLog.id.desc()).limit(limit)))
