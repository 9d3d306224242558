"""A project's alert settings: which alerts are on, their thresholds, extra recipients.

Kept in `Project.settings["alerts"]`; read with defaults filled in, changed validated and
audited (`project.alerts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.validation import FieldChecker
from mailapp.audience.addresses import normalize_email
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AlertKind, Project

KEY = "alerts"
ENABLED_PREFIX = "enabled."
MAX_RECIPIENTS = 20
# Plain words for each kind: the page's checkboxes and the mail's subject line.
KIND_LABELS: Mapping[AlertKind, str] = {
    AlertKind.CAMPAIGN_PAUSED: "A campaign was paused by its guardrails",
    AlertKind.BOUNCE_RATE: "Too many hard bounces",
    AlertKind.COMPLAINT_RATE: "Too many spam complaints",
    AlertKind.QUEUE_GROWING: "Work is piling up (a queue keeps growing)",
    AlertKind.WORKER_SILENT: "A background worker stopped reporting",
    AlertKind.SCHEDULER_SILENT: "The scheduler stopped reporting",
    AlertKind.WEBHOOKS_FAILING: "A webhook receiver keeps failing",
    AlertKind.DNS_WORSE: "A sending domain's DNS check got worse",
}
DEFAULTS: Mapping[str, Any] = {
    "enabled": [k.value for k in AlertKind],
    "bounce_percent": 5,
    "complaint_percent": 0.3,
    "queue_minutes": 15,
    "webhook_failures": 5,
    "recipients": [],
}
# field: (lowest, highest, whole number?)
RANGES: Mapping[str, tuple[float, float, bool]] = {
    "bounce_percent": (0.1, 50.0, False),
    "complaint_percent": (0.01, 10.0, False),
    "queue_minutes": (2, 1440, True),
    "webhook_failures": (2, 100, True),
}
HELP: Mapping[str, str] = {
    "bounce_percent": "Alert when hard bounces pass this share of the mail sent in the last "
    "hour (all campaigns together, once at least 100 messages went out). Default: 5 %.",
    "complaint_percent": "Alert when spam complaints pass this share of the mail sent in the "
    "last hour. Mailbox providers start filtering above 0.3 %. Default: 0.3 %.",
    "queue_minutes": "Alert when waiting background work has kept growing for this many "
    "minutes. Default: 15.",
    "webhook_failures": "Alert when a webhook receiver failed this many times in a row. "
    "Default: 5.",
    "recipients": "Alerts go to the project's owners. Add other addresses here, one per "
    "line (for example an on-call mailbox).",
}


def alert_settings(project: Project) -> dict[str, Any]:
    """The project's alert settings, with the default where none was set."""
    stored = (project.settings or {}).get(KEY) or {}
    return {key: stored.get(key, default) for key, default in DEFAULTS.items()}


def alert_enabled(project: Project, kind: AlertKind) -> bool:
    """Whether the project wants this kind of alert."""
    return kind.value in alert_settings(project)["enabled"]


def update_alert_settings(
    project: Project, changes: Mapping[str, Any], *, actor: Actor
) -> dict[str, dict[str, Any]]:
    """Validate and save alert settings; return {key: {"old", "new"}} of what changed."""
    locked = db.session.execute(
        sa.select(Project)
        .where(Project.id == project.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    current = alert_settings(locked)
    wanted = _parse(changes)
    stored = {**current, **wanted}
    if stored != current:
        locked.settings = {**(locked.settings or {}), KEY: stored}
        record_audit(
            actor,
            "project.alerts",
            project_id=locked.id,
            obj=locked,
            context={"changes": _changes(current, stored)},
        )
    db.session.commit()
    return _changes(current, stored)


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What changed, each alert turned on or off on its own (`enabled.<kind>`), so the audit
    and the page name the alert rather than list them all."""
    changed = {
        k: {"old": old[k], "new": v} for k, v in new.items() if k != "enabled" and old[k] != v
    }
    for kind in AlertKind:
        was, now = kind.value in old["enabled"], kind.value in new["enabled"]
        if was != now:
            changed[f"{ENABLED_PREFIX}{kind.value}"] = {"old": was, "new": now}
    return changed


def _parse(changes: Mapping[str, Any]) -> dict[str, Any]:
    check = FieldChecker()
    wanted: dict[str, Any] = {}
    for key, raw in changes.items():
        if key in RANGES:
            low, high, whole = RANGES[key]
            if whole:
                wanted[key] = check.integer(key, raw, int(low), int(high), optional=False)
            else:
                number = check.number(key, raw, low, high, optional=False)
                # 2, not 2.0: the page shows the value as it is stored.
                wanted[key] = int(number) if number is not None and number.is_integer() else number
        elif key == "enabled":
            kinds = {k.value for k in AlertKind}
            given = list(raw or [])
            unknown = sorted(set(given) - kinds)
            if unknown:
                check.fail(key, f"not an alert: {', '.join(unknown)}")
            wanted[key] = sorted(set(given) & kinds)
        elif key == "recipients":
            wanted[key] = _recipients(check, raw)
        else:
            check.fail(key, f"not an alert setting (settings: {', '.join(DEFAULTS)})")
    check.raise_if_any()
    return wanted


def _recipients(check: FieldChecker, raw: Any) -> list[str]:
    given = raw.replace(",", "\n").split() if isinstance(raw, str) else list(raw or [])
    found: list[str] = []
    for item in given:
        try:
            address = normalize_email(str(item)).email
        except ServiceError:
            check.fail("recipients", f"not an email address: {item!r}")
            continue
        if address not in found:
            found.append(address)
    if len(found) > MAX_RECIPIENTS:
        check.fail("recipients", f"at most {MAX_RECIPIENTS} addresses, not {len(found)}")
    return found
