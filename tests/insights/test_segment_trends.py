"""Trends per segment: the campaigns sent to a segment, summed from DailyStat per day."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.insights.segment_trends import (
    MAX_COMPARED,
    campaigns_by_segment,
    segment_choices,
    segment_trends,
)
from mailapp.models import Event, Segment
from tests.factories import make_contact, make_delivery, make_project, make_sent_campaign

TODAY = date(2026, 5, 10)


def at(days_ago: int) -> datetime:
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def make_segment(project, name: str) -> Segment:
    segment = Segment(project_id=project.id, name=name, rule={"all": []})
    db.session.add(segment)
    db.session.commit()
    return segment


def sent_to(project, name, audience, **fields):
    return make_sent_campaign(project, name=name, snapshot={"audience": audience}, **fields)


def events_for(campaign, contact, delivery, spec):
    """spec: [(type, days_ago, machine)] -> event rows of the campaign's delivery."""
    return [
        {
            "project_id": campaign.project_id,
            "type": type_,
            "occurred_at": at(days_ago),
            "campaign_id": campaign.id,
            "contact_id": contact.id,
            "delivery_id": delivery.id,
            "message_id": None,
            "link_id": None,
            "is_machine": machine,
            "payload": {},
        }
        for type_, days_ago, machine in spec
    ]


@pytest.fixture
def segmented(app):
    project = make_project()
    vip, churn = make_segment(project, "VIP"), make_segment(project, "Churn risk")
    campaigns = {
        "vip only": sent_to(project, "VIP only", {"segment_id": vip.id}),
        "vip and lists": sent_to(project, "VIP + list", {"segment_id": vip.id, "lists": [7]}),
        "churn": sent_to(project, "Churn", {"segment_id": churn.id}),
        "lists only": sent_to(project, "Newsletter", {"lists": [7], "segment_id": None}),
    }
    # Named the segment but never launched: not a campaign sent to it.
    draft = sent_to(project, "Draft", {"segment_id": vip.id})
    draft.launched_at = None
    db.session.commit()
    contact = make_contact(project, "reader@example.org")
    rows = []
    specs = {
        "vip only": [
            ("sent", 3, False),
            ("open", 3, False),
            ("open", 2, False),
            ("click", 2, False),
        ],
        "vip and lists": [("sent", 2, False), ("open", 2, True), ("bounce_hard", 1, False)],
        "churn": [("sent", 2, False), ("unsubscribe", 1, False), ("complaint", 0, False)],
        "lists only": [("sent", 1, False), ("open", 1, False)],
    }
    for key, spec in specs.items():
        campaign = campaigns[key]
        rows += events_for(campaign, contact, make_delivery(campaign, contact), spec)
    record_events(rows)
    return project, vip, churn, campaigns


def raw_counts(campaign_ids, start: date) -> Counter:
    """What the raw events say, to check the aggregate against."""
    found: Counter = Counter()
    for type_, machine in db.session.execute(
        sa.select(Event.type, Event.is_machine).where(
            Event.campaign_id.in_(campaign_ids), Event.occurred_at >= at((TODAY - start).days)
        )
    ):
        found[f"machine_{type_}" if machine else str(type_)] += 1
    return found


def test_a_segment_sums_the_campaigns_sent_to_it(segmented):
    project, vip, churn, campaigns = segmented
    trends = segment_trends(project.id, [vip.id, churn.id], days=7, today=TODAY)
    assert [t.name for t in trends.segments] == ["VIP", "Churn risk"]
    assert trends.days[0] == TODAY - timedelta(days=6)
    assert trends.days[-1] == TODAY
    vip_trend, churn_trend = trends.segments
    vip_ids = [campaigns["vip only"].id, campaigns["vip and lists"].id]
    assert {c.id for c in vip_trend.campaigns} == set(vip_ids)
    assert {c.name: c.mixed for c in vip_trend.campaigns} == {"VIP only": False, "VIP + list": True}
    assert Counter(vip_trend.totals) == raw_counts(vip_ids, trends.days[0])
    assert vip_trend.totals == {
        "sent": 2,
        "open": 2,
        "machine_open": 1,
        "click": 1,
        "bounce_hard": 1,
    }
    assert churn_trend.totals == {"sent": 1, "unsubscribe": 1, "complaint": 1}
    # Per day: index 6 is today, 3 days ago is index 3.
    assert vip_trend.series["sent"] == [0, 0, 0, 1, 1, 0, 0]
    assert vip_trend.series["open"] == [0, 0, 0, 1, 1, 0, 0]
    assert vip_trend.daily("complaint", 7) == [0] * 7
    assert churn_trend.series["complaint"][-1] == 1
    # Rates: opens per delivered (sent minus hard bounces), bounces per sent.
    assert vip_trend.delivered == 1
    assert vip_trend.rate("open") == 2.0
    assert vip_trend.rate("bounce_hard") == 0.5


def test_period_limits_the_days_summed(segmented):
    project, vip, _churn, _ = segmented
    (trend,) = segment_trends(project.id, [vip.id], days=3, today=TODAY).segments
    assert trend.totals == {"sent": 1, "open": 1, "machine_open": 1, "click": 1, "bounce_hard": 1}


def test_the_frozen_audience_decides_not_the_current_one(segmented):
    project, vip, churn, campaigns = segmented
    # Editing the audience after launch does not move the campaign's history.
    campaigns["churn"].audience = {"segment_id": vip.id}
    db.session.commit()
    assert [c.name for c in campaigns_by_segment(project.id)[churn.id]] == ["Churn"]


def test_other_projects_segments_and_campaigns_never_count(segmented, app):
    project, vip, _churn, _ = segmented
    other = make_project()
    theirs = make_segment(other, "Their VIP")
    # A campaign of another project whose snapshot names our segment's id.
    foreign = sent_to(other, "Foreign", {"segment_id": vip.id})
    contact = make_contact(other, "them@example.org")
    record_events(
        events_for(foreign, contact, make_delivery(foreign, contact), [("sent", 0, False)] * 5)
    )
    trends = segment_trends(project.id, [vip.id, theirs.id], days=7, today=TODAY)
    assert [t.segment_id for t in trends.segments] == [vip.id]
    assert trends.segments[0].totals["sent"] == 2


def test_choices_list_every_segment_busiest_first_and_compare_is_capped(segmented):
    project, vip, churn, _ = segmented
    idle = make_segment(project, "Idle")
    assert segment_choices(project.id) == [
        (vip.id, "VIP", 2),
        (churn.id, "Churn risk", 1),
        (idle.id, "Idle", 0),
    ]
    many = [make_segment(project, f"S{n}").id for n in range(MAX_COMPARED + 2)]
    trends = segment_trends(project.id, many, days=7, today=TODAY)
    assert len(trends.segments) == MAX_COMPARED
    assert all(t.totals == {} and t.campaigns == [] for t in trends.segments)


def test_a_comparison_reads_only_the_series_it_draws(segmented):
    project, vip, churn, _ = segmented
    trends = segment_trends(
        project.id, [vip.id, churn.id], days=7, today=TODAY, series=["open", "machine_open"]
    )
    vip_trend, churn_trend = trends.segments
    assert set(vip_trend.series) == {"open", "machine_open"}
    assert vip_trend.series["machine_open"] == [0, 0, 0, 0, 1, 0, 0]
    assert churn_trend.series == {}
    assert vip_trend.totals["sent"] == 2  # totals stay whole


def test_a_segment_id_written_as_a_string_still_counts(segmented):
    project, vip, _churn, _ = segmented
    sent_to(project, "From the API", {"segment_id": str(vip.id)})
    sent_to(project, "Not a segment", {"segment_id": "all"})
    names = [c.name for c in campaigns_by_segment(project.id)[vip.id]]
    assert "From the API" in names
    assert len(names) == 3
