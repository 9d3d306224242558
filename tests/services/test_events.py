"""record_events: raw rows in, aggregates equal to what the raw rows say."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import CampaignEngagement, Contact, DailyStat, Event, EventType
from mailapp.services.events import record_events
from tests.factories import make_contact, make_project
from tests.support.campaigns import make_delivery, make_sent_campaign

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
