"""The send step: claim a small group of rows (`claims`), re-check them, render, sign,
hand them to a pooled transport under the rate limits, record the outcomes; repeat.

A row is claimed (queued/deferred -> sending, with a claim time) before anything is
handed over, and its outcome is written only under that same claim: a redelivered
message, a second worker or a restarted one finds nothing left to claim. Rate limits
never raise: the send waits briefly or puts the rest back with a later scheduled_at.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from flask import current_app

from mailapp.audience.suppression import email_hash
from mailapp.content.rendering import RenderError
from mailapp.delivery.backing import journey_data
from mailapp.delivery.campaigns import fail_cancelled_rows
from mailapp.delivery.claims import SENDABLE, claim_rows, release_rows, unclaim_dispatched
from mailapp.delivery.compose import Composed, Composer, Variant
from mailapp.delivery.guardrails import enforce_guardrails, pause_unrenderable
from mailapp.delivery.mx_providers import MxGrouper
from mailapp.delivery.outcomes import (
    Claimed,
    Outcomes,
    Unrenderable,
    asks_to_slow_down,
    throttle_reason,
)
from mailapp.delivery.ratelimits import RateLimiter
from mailapp.delivery.retries import RetryPolicy
from mailapp.delivery.transport_choice import Failover
from mailapp.delivery.windows import quiet_until, zone
from mailapp.extensions import db, get_redis
from mailapp.mail.transports import TransportPool
from mailapp.models import (
    Campaign,
    Contact,
    ContactStatus,
    Delivery,
    DeliveryStatus,
    Link,
    Project,
    Sender,
    Suppression,
    TemplateVersion,
)
from mailapp.models.base import utcnow
from mailapp.runtime.logs import bind_ids, log_context
from mailapp.runtime.shutdown import stopping
from mailapp.upserts import in_values
from mailapp.urls import LinkSigner

log = logging.getLogger(__name__)
_pool_lock = threading.Lock()
_pools: dict[int, TransportPool] = {}


def transport_pool() -> TransportPool:
    """The worker process's pool of open transport connections, shared by its threads."""
    config = current_app.config
    with _pool_lock:
        key = id(current_app._get_current_object())
        if key not in _pools:
            _pools[key] = TransportPool(config["SMTP_POOL_SIZE"], timeout=config["SMTP_TIMEOUT"])
        return _pools[key]


class CampaignSend:
    """Everything one send batch needs, loaded once."""

    def __init__(self, campaign: Campaign, project: Project) -> None:
        config = current_app.config
        self.campaign = campaign
        self.project = project
        snapshot = campaign.snapshot
        self.sender = db.session.get(Sender, snapshot["sender"]["id"])
        by_position = dict(
            db.session.execute(
                sa.select(Link.position, Link.id).where(Link.campaign_id == campaign.id)
            ).all()
        )
        variants = {
            spec["key"]: Variant(
                db.session.get(TemplateVersion, spec["version_id"]), spec["subject"]
            )
            for spec in snapshot["variants"]
        }
        self.composer = Composer(
            kind="delivery",
            project=project,
            sender=self.sender,
            signer=LinkSigner.from_app("delivery", self.sender.tracking_domain),
            variants=variants,
            link_ids={url: by_position[p] for p, url in enumerate(snapshot.get("links", []))},
            campaign=campaign,
            track_opens=campaign.track_opens and _tracking(project) == "full",
            track_clicks=campaign.track_clicks and _tracking(project) != "off",
            utm=campaign.utm or {},
            list_id=f"{project.name} <{project.slug}.{self.sender.domain}>",
            feedback_id=f"{campaign.id}:{project.id}:campaign:mailapp",
        )
        self.limiter = RateLimiter.from_config(get_redis(), project, self.sender)
        self.grouper = MxGrouper.from_config(get_redis())
        self.transports = Failover(self.sender, transport_pool())
        self.retries = RetryPolicy.for_project(project)
        self.max_wait = config["RATE_LIMIT_MAX_WAIT"]
        settings = project.settings or {}
        self.quiet = settings.get("quiet_hours")
        self.frequency_cap = settings.get("frequency_cap_7d")


def _tracking(project: Project) -> str:
    return (project.settings or {}).get("tracking", "full")


def _still_sendable(campaign_id: int) -> bool:
    row = db.session.execute(
        sa.select(Campaign.status, Project.sending_stopped_at)
        .join(Project, Project.id == Campaign.project_id)
        .where(Campaign.id == campaign_id)
    ).one_or_none()
    db.session.commit()
    return row is not None and row[0] in SENDABLE and row[1] is None


@contextlib.contextmanager
def _kept_loaded() -> Iterator[None]:
    """Each group commits; the batch's campaign, sender and content stay loaded instead of
    being re-read after every commit (what must be fresh is queried explicitly)."""
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = previous
        session.expire_all()


def send_batch(campaign_id: int, delivery_ids: list[int]) -> dict[str, int]:
    """Send a dispatched batch group by group; stop at once when the campaign stops."""
    with log_context(campaign_id=campaign_id):
        with _kept_loaded():
            totals = _send_batch(campaign_id, delivery_ids)
        enforce_guardrails(campaign_id)
    return totals


def _send_batch(campaign_id: int, delivery_ids: list[int]) -> dict[str, int]:
    campaign = db.session.get(Campaign, campaign_id)
    totals: dict[str, int] = {}
    if campaign is None or campaign.snapshot is None:
        return totals
    project = db.session.get(Project, campaign.project_id)
    bind_ids(project_id=project.id)  # undone when send_batch's log context ends
    send = CampaignSend(campaign, project)
    size = current_app.config["SEND_GROUP_SIZE"]
    for start in range(0, len(delivery_ids), size):
        # A stopping worker's groups not started go back to the dispatcher, which hands
        # them to a running worker at its next tick.
        counts = None if stopping() else send_group(send, delivery_ids[start : start + size])
        if counts is None:
            unclaim_dispatched(campaign_id, delivery_ids[start:])
            break
        for outcome, count in counts.items():
            totals[outcome] = totals.get(outcome, 0) + count
    if fail_cancelled_rows(campaign_id):
        log.info("campaign %s was cancelled during a batch: its waiting rows failed", campaign_id)
    db.session.commit()
    return totals


def send_group(send: CampaignSend, ids: list[int]) -> dict[str, int] | None:
    """Claim, check, send and record one group; None when the campaign stopped."""
    now = utcnow()
    claimed = claim_rows(send.campaign.id, ids, now)
    if not claimed:
        return None if not _still_sendable(send.campaign.id) else {}
    contacts = {
        c.id: c
        for c in db.session.scalars(
            sa.select(Contact).where(
                Contact.project_id == send.project.id,
                in_values(Contact.id, [row.contact_id for row in claimed]),
            )
        )
    }
    outcomes = Outcomes(send.project.id, send.campaign.id, send.retries, now)
    events = journey_data(send.campaign, claimed)
    try:
        ready = _recheck(send, claimed, contacts, outcomes, now)
        _deliver(send, ready, contacts, outcomes, events)
    except (Unrenderable, redis.RedisError) as exc:
        # Rate limits unreachable, or the template keeps being refused: nothing more goes
        # out, untouched rows go back; a refused template pauses the campaign, saying why.
        outcomes.record()
        release_rows(outcomes.untouched(claimed), now)
        if isinstance(exc, redis.RedisError):
            raise
        pause_unrenderable(send.project, send.campaign.id, str(exc))
        return None
    outcomes.record()
    release_rows(outcomes.untouched(claimed), now)
    return outcomes.counts


def _recheck(
    send: CampaignSend,
    claimed: list[Claimed],
    contacts: dict[int, Contact],
    outcomes: Outcomes,
    now: datetime,
) -> list[Claimed]:
    """Suppression, contact status, frequency cap and quiet hours, as of now."""
    hashes = {
        row.id: email_hash(contacts[row.contact_id].email)
        for row in claimed
        if row.contact_id in contacts
    }
    suppressed = set(
        db.session.scalars(
            sa.select(Suppression.email_hash).where(
                Suppression.project_id == send.project.id,
                in_values(Suppression.email_hash, set(hashes.values())),
            )
        )
    )
    recent: dict[int, int] = {}
    if send.frequency_cap:
        recent = dict(
            db.session.execute(
                sa.select(Delivery.contact_id, sa.func.count())
                .where(
                    Delivery.project_id == send.project.id,
                    in_values(Delivery.contact_id, contacts),
                    Delivery.status == DeliveryStatus.SENT,
                    Delivery.sent_at >= now - timedelta(days=7),
                    Delivery.campaign_id != send.campaign.id,
                )
                .group_by(Delivery.contact_id)
            ).all()
        )
    ready = []
    for row in claimed:
        contact = contacts.get(row.contact_id)
        if contact is None or contact.status != ContactStatus.ACTIVE:
            outcomes.suppressed(row, "contact not active")
        elif hashes[row.id] in suppressed:
            outcomes.suppressed(row, "suppression list")
        elif send.frequency_cap and recent.get(contact.id, 0) >= int(send.frequency_cap):
            outcomes.suppressed(row, "frequency cap")
        elif until := quiet_until(send.quiet, zone(contact.timezone, send.project.timezone), now):
            outcomes.later(row, until)
        else:
            ready.append(row)
    return ready


def _compose_all(
    send: CampaignSend,
    rows: list[Claimed],
    contacts: dict[int, Contact],
    outcomes: Outcomes,
    events: dict[tuple[int, int], dict],
) -> tuple[list[Composed], list[Claimed]]:
    """The rows' messages; a row the sandbox refuses fails alone (Unrenderable after a few
    in a row), the others still go."""
    composed: list[tuple[Composed, Claimed]] = []
    for row in rows:
        try:
            composed.append(
                (
                    send.composer.compose(
                        row.id,
                        contacts[row.contact_id],
                        row.variant,
                        event=events.get((row.contact_id, row.round)),
                    ),
                    row,
                )
            )
        except RenderError as exc:
            outcomes.not_rendered(row, str(exc))
    return [c for c, _ in composed], [r for _, r in composed]


def _deliver(
    send: CampaignSend,
    ready: list[Claimed],
    contacts: dict[int, Contact],
    outcomes: Outcomes,
    events: dict[tuple[int, int], dict],
) -> None:
    by_group: dict[str, list[Claimed]] = {}
    # One look-up per distinct domain of the group, bounded by one DNS timeout.
    group_of = send.grouper.by_address([contacts[row.contact_id].email for row in ready])
    for row in ready:
        by_group.setdefault(group_of[contacts[row.contact_id].email], []).append(row)
    send.limiter.prepare_groups({g: len(rows) for g, rows in by_group.items()}, utcnow())
    for group, rows in by_group.items():
        while rows:
            grant = send.limiter.acquire(group, len(rows), utcnow())
            allowed, rows = rows[: grant.granted], rows[grant.granted :]
            if allowed:
                # Composed before a connection is borrowed: while this thread renders and
                # signs, another one uses the connection.
                messages, allowed = _compose_all(send, allowed, contacts, outcomes, events)
                for row, composed in zip(allowed, messages, strict=True):
                    if stopping():
                        return  # the rows not sent go back untouched
                    # Each message borrows a connection of the transport chosen for it.
                    result = send.transports.send(composed, f"d{row.id}", "campaign")
                    outcomes.result(row, composed, result)
                    if asks_to_slow_down(result):
                        send.limiter.slow_down(group, throttle_reason(result))
            if rows and grant.retry_at is not None:
                wait = (grant.retry_at - utcnow()).total_seconds()
                if stopping() or not _still_sendable(send.campaign.id):
                    # Paused, cancelled or stopping while this group waited for the rate
                    # limit: the rows not sent yet go back untouched.
                    return
                if wait > send.max_wait:
                    for row in rows:
                        outcomes.later(row, grant.retry_at)
                    log.info(
                        "rate limit %s: %d rows wait until %s",
                        grant.limit,
                        len(rows),
                        grant.retry_at,
                    )
                    rows = []
                else:
                    time.sleep(max(wait, 0.01))
