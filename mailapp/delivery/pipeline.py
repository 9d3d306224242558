"""The campaign send pipeline (DESIGN §4): prepare, dispatch, recovery and campaign ends.

The send step itself is in `delivery.batches`. Guarantees kept here:
- prepare creates every Delivery in one INSERT ... SELECT (ON CONFLICT DO NOTHING);
- dispatch hands out due rows in batches and never holds the rows themselves: only the
  send step's atomic claim moves a row to `sending`, so a row goes out at most once;
- a canary campaign's rest waits for the canary's verdict (`delivery.canary`);
- rows left `sending` by a dead worker become `unknown` once their lease expires
  (`claims.recover_stale_claims`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from mailapp.access.audit import record_audit
from mailapp.delivery.abtests import decide_ab_winner
from mailapp.delivery.campaigns import OPEN_DELIVERIES, PIPELINE, hold, move
from mailapp.delivery.canary import canary_bucket, canary_gate, count_canary, plan_canary
from mailapp.delivery.recipients import audience_filter
from mailapp.delivery.windows import SendWindow, next_local_time, zone
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Contact,
    Delivery,
    DeliveryStatus,
    Project,
    ScheduleMode,
)
from mailapp.models.base import UTCDateTime, utcnow


def _utc(value: datetime) -> sa.ColumnElement:
    return sa.literal(value, UTCDateTime())


def _send_times(
    campaign: Campaign, project: Project, now: datetime, delays: list[timedelta]
) -> tuple[list[sa.ColumnElement], sa.Subquery | None]:
    """Each row's first send time for each delay, as SQL, and the table to join for it.

    Local-time campaigns get a small zone -> instants table (one row per time zone the
    project's contacts use), joined on the contact's zone: no per-row expression.
    """
    window = (
        SendWindow.from_dict(campaign.send_window, project.timezone)
        if campaign.send_window
        else None
    )

    def allowed(at: datetime, delay: timedelta) -> datetime:
        at = max(at, now) + delay
        return window.next_open(at) if window else at

    if campaign.schedule_mode != ScheduleMode.LOCAL_TIME:
        start = (
            campaign.send_at
            if campaign.schedule_mode == ScheduleMode.AT and campaign.send_at
            else now
        )
        return [_utc(allowed(start, delay)) for delay in delays], None

    def local(name: str | None) -> list[datetime]:
        at = next_local_time(campaign.local_send_time, zone(name, project.timezone), now)
        return [allowed(at, delay) for delay in delays]

    defaults = [_utc(at) for at in local(None)]
    names = db.session.scalars(
        sa.select(Contact.timezone)
        .where(Contact.project_id == project.id, Contact.timezone.is_not(None))
        .distinct()
    ).all()
    if not names:
        return defaults, None
    rows = [
        sa.select(
            sa.literal(name).label("zone"),
            *(_utc(at).label(f"at{i}") for i, at in enumerate(local(name))),
        )
        for name in names
    ]
    zones = sa.union_all(*rows).subquery("zone_times")
    return [sa.func.coalesce(zones.c[f"at{i}"], d) for i, d in enumerate(defaults)], zones


def _bucket(buckets: int) -> sa.ColumnElement[int]:
    """A deterministic, well spread bucket per contact (a prime stride over the ids)."""
    return (Contact.id * 7919) % buckets


def _variant(campaign: Campaign) -> sa.ColumnElement:
    """'A' for plain campaigns; for an A/B test a variant for the test share, NULL for
    the rest (they wait for the winner)."""
    keys = [v["key"] for v in campaign.snapshot["variants"]]
    if not campaign.ab_test:
        return sa.literal(keys[0])
    share = round(float(campaign.ab_test["test_share"]) * 1000)
    pick = sa.case({i: sa.literal(k) for i, k in enumerate(keys)}, value=_bucket(1000) % len(keys))
    return sa.case((_bucket(1000) < share, pick), else_=sa.null())


def _first_wave(campaign: Campaign, canary: dict | None) -> sa.ColumnElement[bool] | None:
    """Rows sent before the others: the A/B test share, or the canary."""
    if campaign.ab_test:
        return _bucket(1000) < round(float(campaign.ab_test["test_share"]) * 1000)
    if canary is not None:
        return canary_bucket(Contact.id) < canary["cut"]
    return None


def _later_delay(campaign: Campaign) -> timedelta:
    if campaign.ab_test:
        return timedelta(minutes=float(campaign.ab_test.get("decide_after_minutes", 240)))
    return timedelta(minutes=float((campaign.guardrails or {}).get("canary_minutes", 60)))


def prepare_deliveries(campaign_id: int, *, now: datetime | None = None) -> int:
    """Create the campaign's Delivery rows in one statement; running it again adds none."""
    now = now or utcnow()
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.snapshot is None or campaign.snapshot.get("prepared_at"):
        return 0
    if campaign.journey_version_id is not None:
        return 0  # a journey's backing campaign gets its rows from the journey engine
    if campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.SENT):
        return 0
    project = db.session.get(Project, campaign.project_id)
    canary = plan_canary(campaign, project.id)
    first_wave = _first_wave(campaign, canary)
    delays = [timedelta(0)] if first_wave is None else [timedelta(0), _later_delay(campaign)]
    times, zones = _send_times(campaign, project, now, delays)
    scheduled = times[0] if first_wave is None else sa.case((first_wave, times[0]), else_=times[1])
    table = Delivery.__table__
    columns = ["project_id", "campaign_id", "contact_id", "variant", "scheduled_at", "status"]
    columns += ["attempts", "updated_at"]
    rows = sa.select(
        sa.literal(project.id),
        sa.literal(campaign.id),
        Contact.id,
        _variant(campaign),
        scheduled,
        sa.literal(DeliveryStatus.QUEUED.value),
        sa.literal(0),
        _utc(now),
    ).where(*audience_filter(project.id, campaign.snapshot["audience"]))
    if zones is not None:
        rows = rows.select_from(Contact).outerjoin(zones, zones.c.zone == Contact.timezone)
    postgres = db.engine.dialect.name == "postgresql"
    insert = (postgresql if postgres else sqlite).insert(table)
    statement = insert.from_select(columns, rows).on_conflict_do_nothing(
        index_elements=["campaign_id", "contact_id", "round"]
    )
    db.session.execute(statement)
    # (SQLite reports no rowcount for an upsert from a SELECT: count what is there.)
    created = db.session.scalar(
        sa.select(sa.func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign.id)
    )
    snapshot = dict(campaign.snapshot, prepared_at=now.isoformat(), recipients=created)
    if canary is not None:
        snapshot["canary"] = dict(canary, size=count_canary(campaign.id, canary))
    if campaign.ab_test:
        snapshot["ab_decide_at"] = (now + _later_delay(campaign)).isoformat()
    campaign.snapshot = snapshot
    record_audit(
        PIPELINE, "campaign.prepare", project_id=project.id, obj=campaign, context={"rows": created}
    )
    _hold_if_unconfirmed(campaign, created)
    db.session.commit()
    if postgres:
        # A campaign's rows can be most of the table: fresh statistics for dispatch's plans.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE deliveries"))
    return created


def _hold_if_unconfirmed(campaign: Campaign, prepared: int) -> None:
    """Pause, before anything is sent, a campaign prepared for more or fewer people than the
    person confirmed at launch (the audience changed in between): they resume it for the
    prepared number or cancel it. In preparation's transaction, so no row is dispatched."""
    confirmed = campaign.snapshot.get("confirmed_recipients")
    if confirmed is None or confirmed == prepared:
        return
    reason = (
        f"the audience changed after launch: {confirmed:,} confirmed, {prepared:,} prepared. "
        f"Resume to send to the {prepared:,}, or cancel."
    )
    hold(campaign, reason, actor=PIPELINE, confirmed=confirmed, prepared=prepared)


@dataclass
class DispatchPlan:
    """What a dispatch tick decided: campaigns to prepare and batches to send."""

    prepare: list[int] = field(default_factory=list)
    batches: list[tuple[int, list[int]]] = field(default_factory=list)


def plan_dispatch(*, now: datetime | None = None) -> DispatchPlan:
    """Pick due rows of running campaigns and cut them into send batches."""
    now = now or utcnow()
    config = current_app.config
    plan = DispatchPlan()
    campaigns = db.session.scalars(
        sa.select(Campaign)
        .join(Project, Project.id == Campaign.project_id)
        .where(
            Campaign.status.in_((CampaignStatus.SCHEDULED, CampaignStatus.SENDING)),
            Project.sending_stopped_at.is_(None),
        )
        .order_by(Campaign.id)
    ).all()
    for campaign in campaigns:
        snapshot = campaign.snapshot or {}
        if not snapshot.get("prepared_at") and campaign.journey_version_id is None:
            if _prepare_due(snapshot, now):
                campaign.snapshot = dict(snapshot, prepare_requested_at=now.isoformat())
                plan.prepare.append(campaign.id)
            continue
        if campaign.ab_test:
            decide_ab_winner(campaign, now=now)
        gate = canary_gate(campaign, now)
        if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
            continue  # the canary's verdict paused it
        batches = _due_batches(campaign, now, config, gate)
        if batches and campaign.status == CampaignStatus.SCHEDULED:
            move(campaign, CampaignStatus.SENDING)
        plan.batches += [(campaign.id, ids) for ids in batches]
        if not batches and campaign.journey_version_id is None:
            # A journey's backing campaign never ends by itself: its journey adds rows.
            _finish_if_done(campaign, now)
    db.session.commit()
    return plan


def _prepare_due(snapshot: dict, now: datetime) -> bool:
    """Not asked yet, or asked so long ago that the message must have been lost."""
    asked = snapshot.get("prepare_requested_at")
    return asked is None or datetime.fromisoformat(asked) < now - timedelta(minutes=10)


def _due_batches(
    campaign: Campaign, now: datetime, config: dict, gate: sa.ColumnElement[bool] | None
) -> list[list[int]]:
    project = db.session.get(Project, campaign.project_id)
    if campaign.send_window and not SendWindow.from_dict(
        campaign.send_window, project.timezone
    ).contains(now):
        return []
    size = config["DISPATCH_BATCH_SIZE"]
    stale = now - timedelta(seconds=config["DISPATCH_RETRY_SECONDS"])
    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Delivery)
        .where(
            Delivery.campaign_id == campaign.id,
            Delivery.status.in_(OPEN_DELIVERIES),
            Delivery.claimed_at >= stale,
        )
    )
    room = config["DISPATCH_MAX_BATCHES"] * size - waiting
    if room < size:
        return []
    ids = db.session.scalars(
        sa.select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign.id,
            Delivery.status.in_(OPEN_DELIVERIES),
            Delivery.scheduled_at <= now,
            Delivery.variant.is_not(None),
            sa.or_(Delivery.claimed_at.is_(None), Delivery.claimed_at < stale),
            *([gate] if gate is not None else []),
        )
        .order_by(Delivery.scheduled_at, Delivery.id)
        .limit(room)
    ).all()
    if not ids:
        return []
    # Dispatched, not claimed: the row stays open; claimed_at says when it was handed out.
    # Only rows still open and not handed out are taken: a concurrent dispatch tick, or a
    # worker that claimed a row meanwhile (its claim time guards its outcome), keeps it.
    table = Delivery.__table__
    taken = set(
        db.session.scalars(
            sa.update(table)
            .where(
                table.c.id.in_(ids),
                table.c.status.in_([s.value for s in OPEN_DELIVERIES]),
                sa.or_(table.c.claimed_at.is_(None), table.c.claimed_at < stale),
            )
            .values(claimed_at=now)
            .returning(table.c.id)
        )
    )
    ids = [i for i in ids if i in taken]
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def _finish_if_done(campaign: Campaign, now: datetime) -> None:
    unfinished = db.session.scalar(
        sa.select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign.id,
            Delivery.status.in_((*OPEN_DELIVERIES, DeliveryStatus.SENDING)),
        )
        .limit(1)
    )
    if unfinished is None:
        if campaign.status == CampaignStatus.SCHEDULED:
            move(campaign, CampaignStatus.SENDING)
        move(campaign, CampaignStatus.SENT)
        campaign.finished_at = now
        record_audit(PIPELINE, "campaign.finish", project_id=campaign.project_id, obj=campaign)
