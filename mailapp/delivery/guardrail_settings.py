"""A campaign's guardrails, set in percent by a person and checked: the canary share sent
first, and the bounce and complaint rates above which the campaign pauses itself.

Stored in `Campaign.guardrails` as fractions, the shape delivery.pipeline (canary) and
delivery.guardrails (auto-pause) read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.validation import FieldChecker
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Project

FIELDS = ("canary_percent", "canary_minutes", "max_bounce_percent", "max_complaint_percent")
FIELDS += ("min_sample",)
GUARDRAIL_HELP: Mapping[str, str] = {
    "canary_percent": "Send to this share of the audience first (1-50 %), wait, then the "
    "rest, so a problem shows on a few people. Empty: no canary. Ignored with an A/B test.",
    "canary_minutes": "Once the canary's mail has gone out, the rest waits this long for its "
    "bounces and complaints; then the pause thresholds judge the canary, and the rest goes "
    "out only if it passed. Default: 60.",
    "max_bounce_percent": "Pause the campaign when hard bounces pass this share of sent "
    "mail (0.01-50 %). Empty: never pause on bounces.",
    "max_complaint_percent": "Pause the campaign when spam complaints pass this share of "
    "sent mail (0.01-50 %; mailbox providers act above 0.3 %). Empty: never pause on them.",
    "min_sample": "Judge the rates only after this many messages were sent. A smaller canary "
    "is enlarged to this many recipients (or the whole audience), so it is always judged. "
    "Default: 100.",
}
STARTED = (CampaignStatus.SENDING, CampaignStatus.PAUSED)
FINISHED = (CampaignStatus.SENT, CampaignStatus.CANCELLED)
# percent field -> (stored key, lowest %, highest %)
RATES = {
    "canary_percent": ("canary_share", 1.0, 50.0),
    "max_bounce_percent": ("max_bounce_rate", 0.01, 50.0),
    "max_complaint_percent": ("max_complaint_rate", 0.01, 50.0),
}


def guardrail_values(campaign: Campaign) -> dict[str, Any]:
    """The campaign's guardrails as a person edits them (percent, defaults filled in)."""
    stored = campaign.guardrails or {}
    values: dict[str, Any] = {
        field: _percent(stored[key]) if stored.get(key) else None
        for field, (key, _, _) in RATES.items()
    }
    values["canary_minutes"] = int(stored.get("canary_minutes", 60))
    values["min_sample"] = int(stored.get("min_sample", 100))
    return values


def _percent(fraction: object) -> float | int:
    value = round(float(fraction) * 100, 4)  # type: ignore[arg-type]
    return int(value) if value.is_integer() else value


def set_guardrails(
    project: Project, campaign_id: int, changes: Mapping[str, Any], *, actor: Actor
) -> dict[str, dict[str, Any]]:
    """Validate and save guardrails given in percent; return what changed (old -> new)."""
    campaign = db.session.scalar(
        sa.select(Campaign)
        .where(Campaign.id == campaign_id, Campaign.project_id == project.id)
        .with_for_update()
    )
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    if campaign.status in FINISHED:
        raise ServiceError(f"campaign {campaign.name!r} is {campaign.status}: nothing to guard")
    current = guardrail_values(campaign)
    check = FieldChecker()
    wanted: dict[str, Any] = {}
    for field, raw in changes.items():
        if field in RATES:
            _, low, high = RATES[field]
            wanted[field] = check.number(field, raw, low, high, optional=True)
        elif field == "canary_minutes":
            wanted[field] = check.integer(field, raw, 1, 1440, optional=False)
        elif field == "min_sample":
            wanted[field] = check.integer(field, raw, 10, 1_000_000, optional=False)
        else:
            check.fail(field, f"not a guardrail (guardrails: {', '.join(FIELDS)})")
    canary_changed = any(
        f in wanted and wanted[f] != current[f] for f in ("canary_percent", "canary_minutes")
    )
    if campaign.status in STARTED and canary_changed and not check.errors:
        check.fail("canary_percent", "sending has started: the canary was chosen already")
    check.raise_if_any()
    changed = {f: {"old": current[f], "new": v} for f, v in wanted.items() if current[f] != v}
    if changed:
        stored = dict(campaign.guardrails or {})
        for field, change in changed.items():
            key, new = RATES[field][0] if field in RATES else field, change["new"]
            if new is None:
                stored.pop(key, None)
            else:
                stored[key] = new / 100 if field in RATES else new
        campaign.guardrails = stored
        record_audit(
            actor,
            "campaign.guardrails",
            project_id=project.id,
            obj=campaign,
            context={"changes": changed},
        )
    db.session.commit()
    return changed


# The stored shape (fractions), as the campaigns API and create_campaign take it.
STORED_RATES = {
    "canary_share": (0.01, 0.5),
    "max_bounce_rate": (0.0001, 0.5),
    "max_complaint_rate": (0.0001, 0.5),
}
STORED_COUNTS = {"canary_minutes": (1, 1440), "min_sample": (1, 1_000_000)}


def check_stored_guardrails(guardrails: object) -> None:
    """Refuse guardrails in the stored shape that cannot work, naming the key and the range."""
    if guardrails is None or guardrails == {}:
        return
    if not isinstance(guardrails, Mapping):
        raise ServiceError('guardrails: expected an object, e.g. {"max_bounce_rate": 0.05}')
    known = ", ".join([*STORED_RATES, *STORED_COUNTS])
    for key, value in guardrails.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in STORED_RATES:
            low, high = STORED_RATES[key]
            if not number or not low <= value <= high:
                raise ServiceError(
                    f"guardrails.{key}: a fraction from {low:g} to {high:g}"
                    f" (0.05 is 5 %), got {value!r}"
                )
        elif key in STORED_COUNTS:
            low, high = STORED_COUNTS[key]
            if not number or value != int(value) or not low <= value <= high:
                raise ServiceError(f"guardrails.{key}: a whole number from {low} to {high:,}")
        else:
            raise ServiceError(f"guardrails.{key}: not a guardrail (known: {known})")
