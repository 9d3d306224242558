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
from mailapp.models import Contact, DeliveryStatus, Event, EventType
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
    sent = [
        {
            "project_id": project.id,
            "type": EventType.SENT,
            "occurred_at": DAY0,
            "campaign_id": campaign.id,
            "contact_id": d.contact_id,
            "delivery_id": d.id,
        }
        for d in deliveries[:-1]
    ]
    # The failed one was refused during the SMTP conversation: sent (handed over) and bounced.
    refused = {**sent[0], "contact_id": deliveries[-1].contact_id, "delivery_id": deliveries[-1].id}
    refused |= {"type": EventType.BOUNCE_HARD, "payload": {"code": 550, "at_send": True}}
    record_events([*sent, refused])
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


def _key(e: Event) -> str:
    return f"machine_{e.type}" if e.is_machine else str(e.type)


def _counts(raw) -> Counter:
    """What the aggregates should hold: each event by its key, a refusal at send also sent."""
    counts = Counter(_key(e) for e in raw)
    counts["sent"] += sum(1 for e in raw if e.type == "bounce_hard" and e.payload.get("at_send"))
    return +counts  # no zero entries


def test_campaign_report_equals_raw_events(busy_campaign):
    project, campaign, links = busy_campaign
    report = campaign_report(project.id, campaign.id)
    m = report.metrics
    raw = _raw(campaign)
    counts = _counts(raw)
    assert m.sent == counts["sent"] == 12
    assert (m.bounce_hard, m.bounce_soft) == (counts["bounce_hard"], counts["bounce_soft"])
    assert m.delivered == max(12 - counts["bounce_hard"] - counts["bounce_soft"], 0)
    assert (m.opens, m.clicks) == (counts["open"], counts["click"])
    assert (m.machine_opens, m.machine_clicks) == (counts["machine_open"], counts["machine_click"])
    assert (m.complaints, m.unsubscribes) == (counts["complaint"], counts["unsubscribe"])
    assert m.unique_opens == len(
        {e.contact_id for e in raw if e.type == "open" and not e.is_machine}
    )
    assert m.unique_clicks == len(
        {e.contact_id for e in raw if e.type == "click" and not e.is_machine}
    )
    human_openers = {e.contact_id for e in raw if e.type == "open" and not e.is_machine}
    machine_openers = {e.contact_id for e in raw if e.type == "open" and e.is_machine}
    assert report.machine_only_opens == len(machine_openers - human_openers)
    assert report.outcomes["failed"] == 1
    for link in report.links:
        clicks = [e for e in raw if e.type == "click" and e.link_id == link.id]
        assert (link.clicks, link.machine_clicks) == (
            sum(not e.is_machine for e in clicks),
            sum(e.is_machine for e in clicks),
        )
    assert [link.id for link in report.links] == [link.id for link in links]
    bounces = [e for e in raw if e.type in ("bounce_hard", "bounce_soft")]
    codes = Counter(e.payload.get("enhanced_code") or str(e.payload["code"]) for e in bounces)
    assert dict(report.bounce_codes) == codes
    by_domain = dict(report.domains)
    emails = dict(db.session.execute(sa.select(Contact.id, Contact.email)).all())
    for domain in ("a.org", "b.net"):
        mine = [e for e in raw if not e.is_machine and emails[e.contact_id].endswith(domain)]
        assert by_domain[domain].get("open", 0) == sum(e.type == "open" for e in mine)
        assert by_domain[domain].get("sent", 0) == _counts(mine)["sent"]
    # The daily timeline covers every day from the first to the last event, with raw counts.
    days = {e.occurred_at.date() for e in raw}
    assert report.timeline.days[0][0] == min(days)
    assert report.timeline.days[-1][0] == max(days)
    for day, values in report.timeline.days:
        assert values == dict(_counts([e for e in raw if e.occurred_at.date() == day]))


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
            counts = _counts([e for e in raw if e.occurred_at.date() == day])
            if key == "delivered":
                expected = max(counts["sent"] - counts["bounce_hard"] - counts["bounce_soft"], 0)
            else:
                expected = counts[key]
            assert value == expected, (key, day)
    ((campaign_id, name, figures),) = dashboard.campaigns
    assert (campaign_id, name) == (campaign.id, "=Sale")
    report = campaign_report(project.id, campaign.id).metrics
    # Every event of the campaign is in the period: the figures are the report's.
    assert (figures.sent, figures.delivered, figures.opens, figures.clicks) == (
        report.sent,
        report.delivered,
        report.opens,
        report.clicks,
    )
    assert dashboard.totals.delivered == report.delivered


def test_csv_exports_neutralize_formulas(busy_campaign):
    project, campaign, _ = busy_campaign
    report = campaign_report(project.id, campaign.id)
    rows = list(csv.reader(io.StringIO("".join(campaign_report_csv(report)))))
    assert ["campaign", "name", "'=Sale", ""] in rows
    assert ["summary", "sent", "12", ""] in rows
    assert ["summary", "delivered", str(report.metrics.delivered), ""] in rows
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
    first, second = report.links[0], report.links[1]
    document = (
        f'<p><a href="#link-{first.id}">Zero</a> '
        f"<a href='#link-{second.id}'>One</a> "
        '<a href="https://elsewhere.example.com/">Untracked</a></p>'
    )
    annotated = annotate(document, report.links)
    assert f'data-link="{first.id}"' in annotated
    assert f'data-link="{second.id}"' in annotated
    assert annotated.count("data-link=") == 2
    assert f">{first.clicks:,} · " in annotated
