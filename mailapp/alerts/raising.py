"""Raising an alert: once per kind and subject within the cool-down, mailed by a worker.

The alert row and its `alert.raised` webhook event are written in one transaction; the mail
is asked for once it is committed. A mail that could not be asked for (no broker) stays
`pending`, and the periodic check asks again (`checks.resend_pending`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from flask import current_app

from mailapp import tasks
from mailapp.alerts.settings import KIND_LABELS, alert_enabled
from mailapp.extensions import db
from mailapp.integrations.webhooks import publish_event
from mailapp.models import Alert, AlertKind, Campaign, Project
from mailapp.models.base import utcnow

log = logging.getLogger(__name__)
ALERT_EVENT = "alert.raised"
DEFAULT_COOLDOWN_MINUTES = 60
ALERTS_PAGE = "/admin/alerts/"


def cooldown() -> timedelta:
    """How long the same alert (kind and subject) stays quiet after it was raised."""
    minutes = current_app.config.get("ALERT_COOLDOWN_MINUTES", DEFAULT_COOLDOWN_MINUTES)
    return timedelta(minutes=minutes)


def raise_alert(
    project: Project,
    kind: AlertKind,
    subject: str,
    text: str,
    link: str = ALERTS_PAGE,
    *,
    now: datetime | None = None,
) -> Alert | None:
    """Record an alert and ask for its mail; None when it is off or was raised recently."""
    now = now or utcnow()
    # The project row's lock makes two workers noticing the same problem raise it once.
    locked = db.session.execute(
        sa.select(Project).where(Project.id == project.id).with_for_update()
    ).scalar_one()
    if not alert_enabled(locked, kind) or _recent(locked.id, kind, subject, now):
        db.session.commit()
        return None
    alert = Alert(
        project_id=locked.id,
        kind=kind,
        subject=subject[:200],
        text=text[:500],
        link=link[:500],
        created_at=now,
    )
    db.session.add(alert)
    db.session.flush()
    alert.webhooks_queued = publish_event(
        locked.id,
        ALERT_EVENT,
        {
            "alert_id": alert.id,
            "kind": kind.value,
            "title": KIND_LABELS[kind],
            "subject": alert.subject,
            "text": alert.text,
            "url": current_app.config["BASE_URL"] + alert.link,
        },
    )
    db.session.commit()
    request_mail(alert.id)
    return alert


def _recent(project_id: int, kind: AlertKind, subject: str, now: datetime) -> bool:
    return (
        db.session.scalar(
            sa.select(Alert.id)
            .where(
                Alert.project_id == project_id,
                Alert.kind == kind,
                Alert.subject == subject[:200],
                Alert.created_at > now - cooldown(),
            )
            .limit(1)
        )
        is not None
    )


def request_mail(alert_id: int) -> None:
    """Ask a worker to mail the alert; a failure here leaves it for the periodic check."""
    try:
        tasks.send_alert(alert_id)
    except (redis.RedisError, tasks.NotBound) as exc:
        log.warning("mail of alert %s not requested: %s", alert_id, exc)


def raise_everywhere(
    kind: AlertKind,
    subject: str,
    text: str,
    link: str = ALERTS_PAGE,
    *,
    now: datetime | None = None,
) -> int:
    """Raise a system-wide alert in every project that has it on; how many were raised."""
    raised = 0
    for project in db.session.scalars(sa.select(Project).order_by(Project.id)).all():
        if raise_alert(project, kind, subject, text, link, now=now) is not None:
            raised += 1
    return raised


def raise_campaign_paused(project: Project, campaign: Campaign, reason: str) -> Alert | None:
    """The guardrails paused a campaign: tell the owners why, with the page to act on."""
    return raise_alert(
        project,
        AlertKind.CAMPAIGN_PAUSED,
        f"campaign:{campaign.id}",
        f"Campaign {campaign.name!r} was paused by its guardrails: "
        f"{reason.removeprefix('auto-paused: ')}. Check the list and the content, then resume "
        "or cancel it.",
        f"/admin/campaign/details/?id={campaign.id}",
    )


def raise_dns_worse(project: Project, domain: str, text: str) -> Alert | None:
    """A sending domain's DNS check got worse (SPF, DKIM or DMARC): for the DNS checks to call."""
    return raise_alert(
        project, AlertKind.DNS_WORSE, f"domain:{domain.lower()}", text, "/admin/sender/"
    )


def recent_alerts(project_id: int, *, limit: int, before_id: int | None = None) -> list[Alert]:
    """The project's alerts, newest first (ids grow with time), before `before_id` if given."""
    query = sa.select(Alert).where(Alert.project_id == project_id)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return list(db.session.scalars(query.order_by(Alert.id.desc()).limit(limit)))
