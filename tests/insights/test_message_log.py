"""The activity log's search, filters, keyset pages and CSV; a message's timeline; the
transactional dashboard's figures."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.feedback.inbound import ingest_message
from mailapp.insights.message_dashboard import latency_quantile, message_figures
from mailapp.insights.message_export import export_messages
from mailapp.insights.message_log import LogFilters, log_filters, mask_address, message_page
from mailapp.insights.message_timeline import message_timeline
from mailapp.models import DeliveryStatus, EventType, Message, MessageAttempt
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner
from tests.factories import TEST_ACTOR, make_project, make_sender, make_template, submit_tx
from tests.support.bounces import dsn


@pytest.fixture
def project(app):
    project = make_project("shop")
    make_sender(project)
    return project


def ids(page):
    return [row.message.id for row in page.rows]


def test_search_finds_a_message_by_each_of_its_keys(project):
    target = submit_tx(project, "Ada@Example.org", idempotency_key="order-42")
    other = submit_tx(project, "bob@example.org")
    target.message_id, target.provider_message_id = "<message.9@example.com>", "ses-0102"
    db.session.commit()
    for q in ["ada@example.org", "Ada@Example.org", "order-42", "ses-0102",
              "message.9@example.com", "<message.9@example.com>", str(target.id)]:  # fmt: skip
        assert ids(message_page(project.id, LogFilters(q=q))) == [target.id], q
    assert ids(message_page(project.id, LogFilters(q="nobody@example.org"))) == []
    elsewhere = make_project("elsewhere")
    assert ids(message_page(elsewhere.id, LogFilters(q=str(other.id)))) == []


def test_filters_narrow_by_status_template_tag_sender_and_time(project):
    template = make_template(project)
    second_sender = make_sender(project, name="Billing", from_email="billing@example.com")
    welcome = submit_tx(project, template_id=template.id, tags=["welcome"])
    receipt = submit_tx(project, tags=["receipt"], sender_id=second_sender.id)
    old = submit_tx(project, now=utcnow() - timedelta(days=3))
    db.session.get(Message, receipt.id).status = DeliveryStatus.FAILED
    db.session.commit()

    def found(**fields):
        return ids(message_page(project.id, LogFilters(**fields)))

    assert found() == [old.id, receipt.id, welcome.id]  # newest id first
    assert found(status=DeliveryStatus.FAILED) == [receipt.id]
    assert found(template_id=template.id) == [welcome.id]
    assert found(tag="receipt") == [receipt.id]
    assert found(sender_id=second_sender.id) == [receipt.id]
    assert old.id not in found(since=utcnow() - timedelta(days=1))
    assert found(until=utcnow() - timedelta(days=1)) == [old.id]


def test_pages_follow_the_keyset_both_ways(project):
    made = [submit_tx(project, f"p{n}@example.org").id for n in range(7)]
    first = message_page(project.id, LogFilters(), limit=3)
    assert ids(first) == made[::-1][:3]
    assert first.newer is None
    second = message_page(project.id, LogFilters(), before=first.older, limit=3)
    assert ids(second) == made[::-1][3:6]
    last = message_page(project.id, LogFilters(), before=second.older, limit=3)
    assert ids(last) == [made[0]]
    assert last.older is None
    back = message_page(project.id, LogFilters(), after=second.newer, limit=3)
    assert ids(back) == ids(first)


def test_bad_filters_are_refused_naming_the_field(app):
    for args, field in [
        ({"status": "lost"}, "status"),
        ({"template": "abc"}, "template"),
        ({"tag": "not a tag"}, "tag"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-12-03T10:00", "until": "2026-12-03T09:00"}, "until"),
    ]:
        with pytest.raises(ServiceError) as refused:
            log_filters(args)
        assert str(refused.value).startswith(f"{field}:"), args


def test_times_without_an_offset_are_the_viewers(app):
    filters = log_filters({"since": "2026-12-03T09:30"}, ZoneInfo("Europe/Berlin"))
    assert filters.since == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)


def test_export_neutralizes_formulas_masks_on_request_and_is_audited(project):
    submit_tx(project, content={"subject": '=HYPERLINK("http://x")', "html": "<p>x</p>"})
    lines = "".join(export_messages(project.id, LogFilters(), masked=True, actor=TEST_ACTOR))
    rows = list(csv.DictReader(io.StringIO(lines)))
    assert rows[0]["subject"].startswith("'=")
    assert rows[0]["recipient"] == "a***@example.org"
    assert mask_address("ada@example.org") == "a***@example.org"


def test_timeline_tells_attempts_bounce_report_opens_and_machines(app, project):
    message = submit_tx(project)
    now = utcnow()
    db.session.add_all(
        [
            MessageAttempt(project_id=project.id, message_id=message.id, attempted_at=now,
                           outcome="deferred", reply="451 4.7.1 greylisted"),
            MessageAttempt(project_id=project.id, message_id=message.id,
                           attempted_at=now + timedelta(minutes=1), outcome="sent",
                           reply="250 2.0.0 queued as 77"),
        ]
    )  # fmt: skip
    message.status, message.sent_at = DeliveryStatus.SENT, now + timedelta(minutes=1)
    db.session.commit()
    verp = LinkSigner.from_app("message").verp_address(message.id, "bounces.example.com")
    ingest_message(
        dsn(verp, "ada@example.org", "5.1.1", "550 5.1.1 mailbox unknown"),
        source="pipe",
        actor=TEST_ACTOR,
    )
    record_events(
        [
            {"project_id": project.id, "type": EventType.OPEN, "occurred_at": now,
             "message_id": message.id, "is_machine": True, "payload": {"machine": "apple-mpp"}},
        ]
    )  # fmt: skip
    steps = message_timeline(project.id, db.session.get(Message, message.id))
    titles = [s.title for s in steps]
    assert titles[:2] == ["Accepted by the API", "Queued for sending"]
    assert "Attempt 1: Deferred by the receiving server (will retry)" in titles
    assert "Attempt 2: Accepted by the receiving server" in titles
    bounce = next(s for s in steps if s.kind == "bounce_hard")
    assert "5.1.1" in bounce.detail
    assert "mailbox unknown" in bounce.raw_report
    machine = next(s for s in steps if s.kind == "open")
    assert machine.machine
    assert "not counted" in machine.detail


def test_dashboard_reads_rates_and_latency_from_the_aggregates(project):
    template = make_template(project)
    for n in range(4):
        message = submit_tx(project, f"r{n}@example.org", template_id=template.id, tags=["otp"])
        record_events(
            [{"project_id": project.id, "type": EventType.SENT, "occurred_at": utcnow(),
              "message_id": message.id, "is_machine": False}]
        )  # fmt: skip
    record_events(
        [{"project_id": project.id, "type": EventType.BOUNCE_HARD, "occurred_at": utcnow(),
          "message_id": message.id, "is_machine": False}]
    )  # fmt: skip
    total, rows = message_figures(project.id, "template")
    assert total.accepted == 4
    assert [r.label for r in rows] == [template.name]
    metrics = rows[0].metrics
    assert (metrics.sent, metrics.bounced, metrics.delivered) == (4, 1, 3)
    assert metrics.bounce_rate == 0.25
    assert rows[0].latency(0.5) == 250  # sent within a quarter second of the API call
    _, by_tag = message_figures(project.id, "tag")
    assert by_tag[0].label == "otp"
    assert by_tag[0].metrics.sent == 4


def test_latency_quantiles_come_from_the_buckets():
    counts = Counter({"latency_le_500": 50, "latency_le_2000": 45, "latency_le_60000": 5})
    assert latency_quantile(counts, 0.5) == 500
    assert latency_quantile(counts, 0.95) == 2000
    assert latency_quantile(counts, 0.99) == 60000
    assert latency_quantile(Counter(), 0.5) is None


def test_campaign_deliveries_are_searched_by_address_message_id_and_provider_id(project):
    from mailapp.insights.delivery_log import delivery_page
    from tests.factories import make_contact, make_delivery, make_sent_campaign

    campaign = make_sent_campaign(project, name="Spring news")
    ada = make_delivery(campaign, make_contact(project, "ada@example.org"))
    bob = make_delivery(
        campaign,
        make_contact(project, "bob@example.org"),
        status=DeliveryStatus.FAILED,
        provider_message_id="sg-77",
    )

    def found(**fields):
        return [r.delivery.id for r in delivery_page(project.id, LogFilters(**fields)).rows]

    assert found() == [bob.id, ada.id]
    assert found(q="ADA@example.org") == [ada.id]
    assert found(q=f"<delivery.{ada.id}@example.com>") == [ada.id]
    assert found(q="sg-77") == [bob.id]
    assert found(status=DeliveryStatus.FAILED) == [bob.id]
    rows = delivery_page(project.id, LogFilters(q="bob@example.org")).rows
    assert (rows[0].email, rows[0].campaign_name) == ("bob@example.org", "Spring news")
    assert found(q="nobody@example.org") == []
    assert delivery_page(make_project("other").id, LogFilters()).rows == []
