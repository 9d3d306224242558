"""Reports read aggregates; their figures must equal what the raw events say."""

import csv
import io
import random
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from mailapp.admin.charts import line_chart
from mailapp.admin.clickmap import annotate
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.insights.exports import (
    campaign_report_csv,
    dashboard_csv,
    engagement_csv,
    neutralize,
)
from mailapp.insights.reports import campaign_report, project_dashboard
from mailapp.models import Campaign, DeliveryStatus, Event, EventType
from tests.factories import links_of, make_contact, make_delivery, make_project, make_sent_campaign

DAY0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
TYPES = [
    EventType.OPEN,
    EventType.CLICK,
    EventType.BOUNCE_HARD,
    EventType.BOUNCE_SOFT,
    EventType.COMPLAINT,
    EventType.UNSUBSCRIBE,
    EventType.DELIVERED,
]


@pytest.fixture
def busy_campaign(app):
    """A campaign with a random but seeded mix of events over a week, in several batches."""
    rng = random.Random(6)  # noqa: S311 - test data, not secrets
    project = make_project()
    campaign = make_sent_campaign(
        project, [f"https://shop.example.com/{n}" for n in range(3)], name="=Sale"
    )
    links = links_of(campaign)
    contacts = [
        make_contact(project, f"{'=cmd' if n == 0 else 'c'}{n}@{rng.choice(['a.org', 'b.net'])}")
        for n in range(12)
    ]
    deliveries = [make_delivery(campaign, c) for c in contacts]
    deliveries[-1].status = DeliveryStatus.FAILED
    db.session.commit()
    for _ in range(4):
        batch = []
        for _ in range(60):
            type_ = rng.choice(TYPES)
            delivery = rng.choice(deliveries)
            payload = {"enhanced_code": rng.choice(["5.1.1", "4.2.2"])} if "bounce" in type_ else {}
            batch.append(
                {
                    "project_id": project.id,
                    "type": type_,
                    "occurred_at": DAY0 + timedelta(hours=rng.randrange(0, 24 * 7)),
                    "campaign_id": campaign.id,
                    "contact_id": delivery.contact_id,
                    "delivery_id": delivery.id,
                    "message_id": None,
                    "link_id": rng.choice(links).id if type_ == EventType.CLICK else None,
                    "is_machine": type_ in (EventType.OPEN, EventType.CLICK) and rng.random() < 0.3,
                    "payload": payload,
                }
            )
        record_events(batch)
    # Another campaign's and another project's events must not leak in.
    other = make_project()
    record_events(
        [
            {
                **batch[0],
                "project_id": other.id,
                "campaign_id": None,
                "contact_id": None,
                "delivery_id": None,
                "link_id": None,
                "type": EventType.OPEN,
            }
        ]
    )
    return project, campaign, links


def _raw(campaign):
    return db.session.scalars(sa.select(Event).where(Event.campaign_id == campaign.id)).all()


def test_campaign_report_equals_raw_events(busy_campaign):
    project, campaign, links = busy_campaign
    report = campaign_report(project.id, campaign.id)
    raw = _raw(campaign)
    human = Counter(e.type for e in raw if not e.is_machine)
    machine = Counter(e.type for e in raw if e.is_machine)
    assert report.counts == {str(k): v for k, v in human.items()}
    assert report.machine == {str(k): v for k, v in machine.items()}
    assert report.unique_opens == len(
        {e.contact_id for e in raw if e.type == "open" and not e.is_machine}
    )
    assert report.unique_clicks == len(
        {e.contact_id for e in raw if e.type == "click" and not e.is_machine}
    )
    human_openers = {e.contact_id for e in raw if e.type == "open" and not e.is_machine}
    machine_openers = {e.contact_id for e in raw if e.type == "open" and e.is_machine}
    assert report.machine_only_opens == len(machine_openers - human_openers)
    assert report.sent == 11
    assert report.outcomes["failed"] == 1
    assert report.delivered == human[EventType.DELIVERED]
    for link in report.links:
        clicks = [e for e in raw if e.type == "click" and e.link_id == link.id]
        assert (link.clicks, link.machine_clicks) == (
            sum(not e.is_machine for e in clicks),
            sum(e.is_machine for e in clicks),
        )
    assert [link.id for link in report.links] == [link.id for link in links]
    bounces = [e for e in raw if e.type in ("bounce_hard", "bounce_soft")]
    assert dict(report.bounce_codes) == Counter(e.payload["enhanced_code"] for e in bounces)
    assert sum(n for _, n in report.bounce_domains) == len(bounces)
    # The timeline covers every day from the first to the last event, with the raw counts.
    days = {e.occurred_at.date() for e in raw}
    assert report.timeline[0][0] == min(days)
    assert report.timeline[-1][0] == max(days)
    for day, values in report.timeline:
        expected = Counter(
            f"machine_{e.type}" if e.is_machine else str(e.type)
            for e in raw
            if e.occurred_at.date() == day
        )
        assert values == dict(expected)


def test_report_is_scoped_to_the_project(busy_campaign):
    _, campaign, _ = busy_campaign
    with pytest.raises(NotFound):
        campaign_report(make_project().id, campaign.id)


def test_dashboard_trends_equal_raw_events(busy_campaign):
    project, campaign, _ = busy_campaign
    today = date(2026, 5, 10)
    dashboard = project_dashboard(project.id, days=14, today=today)
    assert dashboard.days[0] == date(2026, 4, 27)
    assert dashboard.days[-1] == today
    raw = db.session.scalars(sa.select(Event).where(Event.project_id == project.id)).all()
    for key, values in dashboard.series.items():
        for day, value in zip(dashboard.days, values, strict=True):
            assert value == sum(
                1
                for e in raw
                if e.occurred_at.date() == day
                and (f"machine_{e.type}" if e.is_machine else str(e.type)) == key
            )
    ((campaign_id, name, totals),) = dashboard.campaigns
    assert (campaign_id, name) == (campaign.id, "=Sale")
    assert totals["open"] == sum(1 for e in raw if e.type == "open" and not e.is_machine)


def test_csv_exports_neutralize_formulas(busy_campaign):
    project, campaign, _ = busy_campaign
    report = campaign_report(project.id, campaign.id)
    rows = list(csv.reader(io.StringIO("".join(campaign_report_csv(report)))))
    assert ["campaign", "name", "'=Sale", ""] in rows
    assert ["summary", "sent", "11", ""] in rows
    engagement = list(csv.reader(io.StringIO("".join(engagement_csv(project.id, campaign.id)))))
    assert engagement[0][0] == "email"
    emails = [row[0] for row in engagement[1:]]
    assert any(e.startswith("'=cmd0@") for e in emails)
    assert not any(e[0] in "=+-@\t\r" for e in emails)
    day_rows = list(csv.reader(io.StringIO("".join(dashboard_csv(project_dashboard(project.id))))))
    assert day_rows[0][0] == "day"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (-3, -3),
        (None, ""),
    ],
)
def test_neutralize(value, expected):
    assert neutralize(value) == expected


def test_line_chart_is_well_formed_svg_with_escaped_labels():
    svg = line_chart(
        ["05-01", "05-02", "05-03"],
        [("opens <human>", [1, 5, 2]), ("clicks", [0, 1, 0])],
        title="Campaign & co",
    )
    root = ET.fromstring(str(svg))  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    polylines = root.findall(".//{http://www.w3.org/2000/svg}polyline")
    assert len(polylines) == 2
    assert len(polylines[0].get("points").split()) == 3
    assert "opens <human>" in "".join(root.itertext())


def test_click_map_badges_each_tracked_link(busy_campaign):
    project, campaign, _ = busy_campaign
    report = campaign_report(project.id, campaign.id)
    document = (
        '<p><a href="https://shop.example.com/0">Zero</a> '
        "<a href='https://shop.example.com/1?utm_source=x'>One</a> "
        '<a href="https://elsewhere.example.com/">Untracked</a></p>'
    )
    annotated = annotate(document, report.links)
    first, second = report.links[0], report.links[1]
    assert f'data-link="{first.id}"' in annotated
    assert f'data-link="{second.id}"' in annotated
    assert annotated.count("data-link=") == 2
    assert f">{first.clicks:,} · " in annotated


def test_report_uses_the_snapshot_html(app):
    project = make_project()
    campaign = make_sent_campaign(project, snapshot={"html": "<p>Hello</p>"})
    assert campaign_report(project.id, campaign.id).html == "<p>Hello</p>"
    bare = make_sent_campaign(project, name="Bare")
    assert campaign_report(project.id, bare.id).html is None
    assert db.session.get(Campaign, bare.id).snapshot is None
