"""record_events: raw rows in, aggregates equal to what the raw rows say."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.events import purge_expired_events, record_events
from mailapp.models import (
    AuditLog,
    CampaignEngagement,
    Contact,
    DailyStat,
    Event,
    EventType,
    LinkStat,
)
from tests.factories import links_of, make_contact, make_delivery, make_project, make_sent_campaign

T0 = datetime(2026, 3, 1, 23, 59, 0, tzinfo=UTC)


def _row(project, campaign, contact, type_, at, machine=False, **extra):
    return {
        "project_id": project.id,
        "type": type_,
        "occurred_at": at,
        "campaign_id": campaign.id if campaign else None,
        "contact_id": contact.id if contact else None,
        "delivery_id": None,
        "message_id": None,
        "link_id": None,
        "is_machine": machine,
        "payload": extra,
    }


def test_aggregates_match_raw_events_across_batches(app):
    project = make_project()
    campaign = make_sent_campaign(project)
    ada, bob = make_contact(project), make_contact(project)
    for contact in (ada, bob):
        make_delivery(campaign, contact)
    later = T0 + timedelta(minutes=5)  # the next day: stats split per UTC day
    batches = [
        [
            _row(project, campaign, ada, EventType.OPEN, later),
            _row(project, campaign, ada, EventType.OPEN, T0, machine=True),
            _row(project, campaign, bob, EventType.CLICK, T0),
            _row(project, None, None, EventType.OPEN, T0),  # transactional, anonymous
        ],
        [
            _row(project, campaign, ada, EventType.OPEN, T0 - timedelta(hours=1)),
            _row(project, campaign, ada, EventType.CLICK, later, machine=True),
            _row(project, campaign, bob, EventType.CLICK, later),
            _row(project, campaign, bob, EventType.BOUNCE_SOFT, later, code="4.2.2"),
        ],
    ]
    for batch in batches:
        record_events(batch)

    events = db.session.execute(
        sa.select(
            Event.occurred_at,
            Event.campaign_id,
            Event.contact_id,
            Event.type,
            Event.is_machine,
        )
    ).all()
    assert len(events) == 8
    expected_daily = Counter(
        (e.occurred_at.date(), e.campaign_id or 0, e.type, e.is_machine) for e in events
    )
    daily = {
        (s.day, s.campaign_id, s.type, s.is_machine): s.count
        for s in db.session.scalars(sa.select(DailyStat).where(DailyStat.project_id == project.id))
    }
    assert daily == dict(expected_daily)

    engagement = {
        e.contact_id: e
        for e in db.session.scalars(
            sa.select(CampaignEngagement).where(CampaignEngagement.campaign_id == campaign.id)
        )
    }
    for contact in (ada, bob):
        mine = [e for e in events if e.contact_id == contact.id and e.type != EventType.BOUNCE_SOFT]
        row = engagement[contact.id]
        human_opens = [e.occurred_at for e in mine if e.type == "open" and not e.is_machine]
        human_clicks = [e.occurred_at for e in mine if e.type == "click" and not e.is_machine]
        assert row.opens == len(human_opens)
        assert row.clicks == len(human_clicks)
        assert row.machine_opens == sum(e.type == "open" and e.is_machine for e in mine)
        assert row.machine_clicks == sum(e.type == "click" and e.is_machine for e in mine)
        assert row.first_opened_at == (min(human_opens) if human_opens else None)
        assert row.first_clicked_at == (min(human_clicks) if human_clicks else None)

    db.session.expire_all()
    ada_row, bob_row = db.session.get(Contact, ada.id), db.session.get(Contact, bob.id)
    assert ada_row.last_opened_at == later
    assert ada_row.last_clicked_at is None  # only a machine click
    assert bob_row.last_clicked_at == later
    assert bob_row.last_opened_at is None


def test_unknown_keys_and_naive_times_are_refused(app):
    project = make_project()
    row = _row(project, None, None, EventType.OPEN, T0)
    row["ip"] = "192.0.2.1"
    with pytest.raises(ValueError, match="ip"):
        record_events([row])
    naive = _row(project, None, None, EventType.OPEN, T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone"):
        record_events([naive])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0


def test_retention_purge_deletes_old_raw_events_in_chunks_and_keeps_aggregates(app):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    short, default = make_project(), make_project()
    short.settings = {**short.settings, "event_retention_days": 30}
    db.session.commit()
    rows = []
    for project in (short, default):
        for age_days in (1, 29, 31, 90, 90, 500):
            rows.append(_row(project, None, None, EventType.OPEN, now - timedelta(days=age_days)))
    record_events(rows)
    stats_before = db.session.execute(
        sa.select(DailyStat.project_id, DailyStat.day, DailyStat.count).order_by(DailyStat.id)
    ).all()

    assert purge_expired_events(chunk=2, now=now) == 4 + 1  # 31, 90, 90, 500 days; then 500

    left = Counter(
        (pid, (now - at).days)
        for pid, at in db.session.execute(sa.select(Event.project_id, Event.occurred_at))
    )
    assert left == Counter(
        {(short.id, 1): 1, (short.id, 29): 1}
        | {(default.id, d): n for d, n in ((1, 1), (29, 1), (31, 1), (90, 2))}
    )
    stats_after = db.session.execute(
        sa.select(DailyStat.project_id, DailyStat.day, DailyStat.count).order_by(DailyStat.id)
    ).all()
    assert stats_after == stats_before
    audits = db.session.execute(
        sa.select(AuditLog.project_id, AuditLog.context).where(AuditLog.action == "events.purge")
    ).all()
    assert sorted((pid, ctx["deleted"]) for pid, ctx in audits) == [(short.id, 4), (default.id, 1)]


def test_link_stats_equal_clicks_per_link(app):
    project = make_project()
    campaign = make_sent_campaign(project, ["https://a.example.com/", "https://b.example.com/"])
    first, second = links_of(campaign)
    contact = make_contact(project)
    plan = [(first, False)] * 3 + [(first, True)] + [(second, True)] * 2
    for chunk in (plan[:2], plan[2:]):
        record_events(
            [
                {
                    **_row(project, campaign, contact, EventType.CLICK, T0, machine),
                    "link_id": link.id,
                }
                for link, machine in chunk
            ]
        )
    raw = Counter(db.session.execute(sa.select(Event.link_id, Event.is_machine)).all())
    stats = {
        s.link_id: (s.clicks, s.machine_clicks) for s in db.session.scalars(sa.select(LinkStat))
    }
    assert stats == {
        link.id: (raw[(link.id, False)], raw[(link.id, True)]) for link in (first, second)
    }
    assert stats[first.id] == (3, 1)
