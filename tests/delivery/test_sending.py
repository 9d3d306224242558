import email
from datetime import timedelta

import dkim
import pytest
import sqlalchemy as sa

from mailapp.audience.suppression import suppress
from mailapp.delivery import batches, claims, pipeline
from mailapp.delivery.campaigns import (
    campaign_progress,
    cancel_campaign,
    pause_campaign,
    resend_unknown,
    resume_campaign,
)
from mailapp.delivery.senders import dkim_dns_record
from mailapp.errors import ServiceError
from mailapp.extensions import db, get_redis
from mailapp.models import (
    AuditLog,
    Campaign,
    CampaignStatus,
    DailyStat,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Link,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from mailapp.urls import read_click, read_verp
from tests.factories import (
    TEST_ACTOR,
    dkim_key,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.pipeline import launch, run_pipeline
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def sink(app):
    sink = SmtpSink().start()
    app.config.update(SMTP_URL=sink.url, SEND_GROUP_SIZE=4, DISPATCH_BATCH_SIZE=10)
    yield sink
    sink.stop()
    batches.transport_pool().close()


def dns(name, timeout=5):
    assert name == b"sel1._domainkey.example.com."
    return dkim_dns_record(dkim_key()).encode()


def setup_campaign(count=10, **fields):
    project = make_project()
    sender = make_sender(project)
    template = make_template(project)
    lst = make_list(project, count)
    campaign = make_campaign(project, sender, template, [lst], **fields)
    return project, campaign, lst


def deliveries(campaign_id):
    return db.session.scalars(
        sa.select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
    ).all()


def test_campaign_reaches_each_contact_once_signed_and_tracked(app, sink):
    project, campaign, _ = setup_campaign(10)
    launch(project, campaign)
    run_pipeline(campaign.id)
    received = sorted(r for m in sink.messages for r in m.rcpt_tos)
    assert len(received) == 10
    assert len(set(received)) == 10
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SENT
    message = sink.messages[0]
    assert dkim.verify(message.data, dnsfunc=dns)
    parsed = email.message_from_bytes(message.data)
    signed = parsed["DKIM-Signature"].replace("\r\n", "").replace(" ", "")
    for header in ("list-unsubscribe", "list-unsubscribe-post", "list-id", "feedback-id"):
        assert header in signed.split("h=")[1].split(";")[0].split(":")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "mailto:" in parsed["List-Unsubscribe"]
    assert "https://" not in parsed["List-Unsubscribe"]
    assert parsed["List-Unsubscribe"].startswith("<http://mail.test/u/")
    kind, delivery_id = read_verp(app.config["SECRET_KEY"], message.mail_from)
    delivery = db.session.get(Delivery, delivery_id)
    assert kind == "delivery"
    assert delivery.status == DeliveryStatus.SENT
    assert parsed["Message-ID"] == f"<delivery.{delivery_id}@example.com>" == delivery.message_id
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode()
    assert "https://example.com/news" not in body
    token = body.split("http://mail.test/t/c/")[1].split('"')[0]
    item, link_id = read_click(app.config["SECRET_KEY"], token)
    assert item == delivery_id
    assert db.session.get(Link, link_id).url == "https://example.com/news"
    assert "http://mail.test/t/o/" in body
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Event).where(Event.type == EventType.SENT)
        )
        == 10
    )
    # Sent events reach the daily aggregates the dashboards read.
    assert (
        db.session.scalar(
            sa.select(sa.func.sum(DailyStat.count)).where(
                DailyStat.campaign_id == campaign.id, DailyStat.type == EventType.SENT
            )
        )
        == 10
    )


def test_suppression_wins_before_and_after_prepare(app, sink):
    project, campaign, _lst = setup_campaign(6)
    addresses = sorted(db.session.scalars(sa.text("SELECT email FROM contacts ORDER BY id")).all())
    suppress(project.id, addresses[0].upper(), SuppressionReason.UNSUBSCRIBE, actor=TEST_ACTOR)
    launch(project, campaign)
    assert pipeline.prepare_deliveries(campaign.id) == 5
    suppress(project.id, addresses[1], SuppressionReason.COMPLAINT, actor=TEST_ACTOR)
    run_pipeline(campaign.id)
    received = {r for m in sink.messages for r in m.rcpt_tos}
    assert addresses[0] not in received
    assert addresses[1] not in received
    assert len(received) == 4
    progress = campaign_progress(project.id, campaign.id)
    assert progress["sent"] == 4
    assert progress["suppressed"] == 1
    assert progress["total"] == 5


def test_smtp_outcomes_backoff_and_hard_bounce(app, sink):
    project, campaign, lst = setup_campaign(0)
    from tests.factories import add_contacts

    add_contacts(
        project, lst, ["gone@example.org", "full@example.org", "slow@gmail.com", "ok@example.org"]
    )
    sink.rcpt_rules.update(
        {
            "gone@example.org": "550 5.1.1 user unknown",
            "full@example.org": "452 4.2.2 mailbox full",
            "slow@gmail.com": "421 4.7.0 try again later",
        }
    )
    app.config.update(SEND_BACKOFF=[60, 300], SEND_QUEUE_LIFETIME=5 * 86400)
    launch(project, campaign)
    before = utcnow()
    run_pipeline(campaign.id)
    rows = {d.contact_id: d for d in deliveries(campaign.id)}
    by_email = {
        email_: rows[cid]
        for cid, email_ in db.session.execute(sa.text("SELECT id, email FROM contacts")).all()
    }
    assert by_email["ok@example.org"].status == DeliveryStatus.SENT
    gone = by_email["gone@example.org"]
    assert gone.status == DeliveryStatus.FAILED
    assert gone.last_reply.startswith("550 5.1.1")
    assert db.session.scalar(
        sa.select(Event.type).where(
            Event.delivery_id == gone.id, Event.type == EventType.BOUNCE_HARD
        )
    )
    from mailapp.audience.suppression import is_suppressed

    assert is_suppressed(project.id, "gone@example.org")
    full = by_email["full@example.org"]
    assert full.status == DeliveryStatus.DEFERRED
    assert full.attempts == 1
    assert before + timedelta(seconds=55) < full.scheduled_at < utcnow() + timedelta(seconds=65)
    assert get_redis().exists(f"rl:throttle:{campaign.snapshot['sender']['id']}:google")
    # The throttled row is tried again soon, and the throttle is not counted as an attempt.
    slow = by_email["slow@gmail.com"]
    assert (slow.status, slow.attempts) == (DeliveryStatus.DEFERRED, 0)
    assert slow.scheduled_at < utcnow() + timedelta(seconds=65)
    # Second attempt: 5 minutes later, still deferred; the queue lifetime counts from the first.
    first_deferred = full.first_deferred_at
    retry(full)
    assert (full.attempts, full.status, full.first_deferred_at) == (
        2,
        DeliveryStatus.DEFERRED,
        first_deferred,
    )
    assert utcnow() + timedelta(seconds=290) < full.scheduled_at < utcnow() + timedelta(seconds=305)
    # Five days after the first deferral the next try is the last: failed, its reply kept.
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == full.id)
        .values(first_deferred_at=utcnow() - timedelta(days=5, seconds=1))
    )
    retry(full)
    assert (full.attempts, full.status) == (3, DeliveryStatus.FAILED)
    assert full.reason == "expired: still deferred after 5 days"
    assert full.last_reply == "452 4.2.2 mailbox full"
    assert len(sink.messages) == 1


def retry(row: Delivery) -> None:
    """Make a deferred row due and run one dispatch and send."""
    db.session.execute(
        sa.update(Delivery).where(Delivery.id == row.id).values(scheduled_at=utcnow())
    )
    db.session.commit()
    plan = pipeline.plan_dispatch(now=utcnow() + timedelta(seconds=1))
    for cid, ids in plan.batches:
        batches.send_batch(cid, ids)
    db.session.refresh(row)


def test_pause_stops_the_batch_and_resume_carries_on(app, sink):
    project, campaign, _ = setup_campaign(12)
    launch(project, campaign)
    pipeline.prepare_deliveries(campaign.id)
    plan = pipeline.plan_dispatch()
    assert [len(ids) for _, ids in plan.batches] == [10, 2]
    pause_campaign(project, campaign.id, actor=TEST_ACTOR)
    batches.send_batch(*plan.batches[0])
    assert sink.messages == []
    assert pipeline.plan_dispatch().batches == []
    resume_campaign(project, campaign.id, actor=TEST_ACTOR)
    run_pipeline(campaign.id)
    assert len({r for m in sink.messages for r in m.rcpt_tos}) == 12
    with pytest.raises(ServiceError):
        resume_campaign(project, campaign.id, actor=TEST_ACTOR)


def dispatch_requests() -> int:
    from workers.actors.sending import dispatch
    from workers.broker import broker

    queue = broker.queues.get(dispatch.queue_name)
    return 0 if queue is None else queue.qsize()


def test_launch_resume_and_prepare_dispatch_at_once_not_at_the_next_tick(app, sink):
    from workers.actors.sending import prepare_campaign

    project, campaign, _ = setup_campaign(3)
    assert dispatch_requests() == 0
    launch(project, campaign)
    assert dispatch_requests() == 1
    prepare_campaign.fn(campaign.id)  # the actor's body, as a worker runs it
    assert dispatch_requests() == 2
    assert len(deliveries(campaign.id)) == 3
    pause_campaign(project, campaign.id, actor=TEST_ACTOR)
    assert dispatch_requests() == 2
    resume_campaign(project, campaign.id, actor=TEST_ACTOR)
    assert dispatch_requests() == 3


def test_cancel_ends_waiting_rows_without_sending(app, sink):
    project, campaign, _ = setup_campaign(5)
    launch(project, campaign)
    pipeline.prepare_deliveries(campaign.id)
    cancel_campaign(project, campaign.id, actor=TEST_ACTOR)
    run_pipeline(campaign.id)
    assert sink.messages == []
    assert {(d.status, d.reason) for d in deliveries(campaign.id)} == {
        (DeliveryStatus.FAILED, "cancelled")
    }
    with pytest.raises(ServiceError):
        launch(project, campaign)


class CancellingSink(SmtpSink):
    """Cancels the campaign (through its own connection, as the back office would) when
    the first recipient is offered, then defers every recipient with 451."""

    engine: sa.Engine | None = None
    campaign_id: int | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.campaign_id is not None:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(Campaign.__table__)
                    .where(Campaign.__table__.c.id == self.campaign_id)
                    .values(status=CampaignStatus.CANCELLED.value)
                )
            self.campaign_id = None
        return "451 4.3.0 try again later"


def test_rows_a_worker_holds_at_cancel_end_failed_not_waiting(app):
    """Cancel while a group is on the wire: its rows come back deferred (451), and the batch
    ends them `failed`/cancelled rather than leaving them waiting for ever."""
    sink = CancellingSink().start()
    app.config.update(SMTP_URL=sink.url, SEND_GROUP_SIZE=4, DISPATCH_BATCH_SIZE=10)
    try:
        project, campaign, _ = setup_campaign(4)
        launch(project, campaign)
        pipeline.prepare_deliveries(campaign.id)
        sink.engine, sink.campaign_id = db.engine, campaign.id
        (batch,) = pipeline.plan_dispatch().batches
        batches.send_batch(*batch)
    finally:
        sink.stop()
        batches.transport_pool().close()
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.CANCELLED
    rows = deliveries(campaign.id)
    assert {(d.status, d.reason) for d in rows} == {(DeliveryStatus.FAILED, "cancelled")}
    assert [d.attempts for d in rows] == [1, 1, 1, 1]


def test_dead_worker_rows_become_unknown_and_can_be_resent(app, sink):
    project, campaign, _ = setup_campaign(3)
    launch(project, campaign)
    pipeline.prepare_deliveries(campaign.id)
    ids = [d.id for d in deliveries(campaign.id)]
    claimed = claims.claim_rows(campaign.id, ids[:2], utcnow())
    assert len(claimed) == 2
    assert claims.claim_rows(campaign.id, ids, utcnow())[0].id == ids[2]  # never twice
    app.config["SEND_LEASE_SECONDS"] = 1
    assert claims.recover_stale_claims(now=utcnow() + timedelta(seconds=5)) == 3
    assert campaign_progress(project.id, campaign.id)["unknown"] == 3
    run_pipeline(campaign.id)
    assert sink.messages == []
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SENT
    assert resend_unknown(project, campaign.id, actor=TEST_ACTOR) == 3
    run_pipeline(campaign.id)
    assert len(sink.messages) == 3
    assert db.session.scalar(
        sa.select(AuditLog.id).where(AuditLog.action == "campaign.resend_unknown")
    )


def test_a_dispatch_tick_never_retakes_rows_a_worker_claimed_meanwhile(app, sink):
    """A worker claims rows between a dispatch tick's SELECT and its UPDATE: the tick must
    leave them alone, or it would overwrite the claim time guarding their outcome (the
    sent row would stay `sending`, become `unknown`, and a resend would send it twice)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a second connection writing inside the tick needs PostgreSQL")
    project, campaign, _ = setup_campaign(6)
    launch(project, campaign)
    pipeline.prepare_deliveries(campaign.id)
    ids = [d.id for d in deliveries(campaign.id)]
    claimed_at = utcnow()
    table = Delivery.__table__

    def worker_claims_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE deliveries SET claimed_at") and conn is not other:
            other.execute(
                sa.update(table)
                .where(table.c.id.in_(ids[:3]))
                .values(status=DeliveryStatus.SENDING.value, claimed_at=claimed_at)
            )
            other.commit()

    with db.engine.connect() as other:
        sa.event.listen(db.engine, "before_cursor_execute", worker_claims_first)
        try:
            plan = pipeline.plan_dispatch()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", worker_claims_first)
    assert [i for _, batch in plan.batches for i in batch] == ids[3:]
    db.session.expire_all()
    assert [d.claimed_at for d in deliveries(campaign.id)][:3] == [claimed_at] * 3


def test_launch_refuses_an_empty_audience_and_illegal_moves(app, sink):
    project, campaign, _ = setup_campaign(0)
    with pytest.raises(ServiceError, match="empty"):
        launch(project, campaign)
    with pytest.raises(ServiceError):
        pause_campaign(project, campaign.id, actor=TEST_ACTOR)


def test_ab_test_sends_the_share_then_the_winner_to_the_rest(app, sink):
    from mailapp.models import CampaignEngagement, CampaignVariant

    project, campaign, _ = setup_campaign(
        40,
        ab_test={"test_share": 0.5, "metric": "clicks", "decide_after_minutes": 60},
        variants=[{"key": "A", "subject": "Alpha"}, {"key": "B", "subject": "Beta"}],
    )
    launch(project, campaign)
    assert pipeline.prepare_deliveries(campaign.id) == 40
    rows = deliveries(campaign.id)
    rest = sum(1 for d in rows if d.variant is None)
    in_b = sum(1 for d in rows if d.variant == "B")
    assert 12 <= rest <= 28
    assert {d.variant for d in rows if d.variant} == {"A", "B"}
    run_pipeline(campaign.id)
    subjects = [email.message_from_bytes(m.data)["Subject"] for m in sink.messages]
    assert sorted(set(subjects)) == ["Alpha", "Beta"]
    assert len(subjects) == 40 - rest
    clicked = [d.contact_id for d in rows if d.variant == "B"][:3]
    db.session.add_all(
        CampaignEngagement(project_id=project.id, campaign_id=campaign.id, contact_id=c, clicks=1)
        for c in clicked
    )
    db.session.commit()
    assert pipeline.plan_dispatch().batches == []  # not decided before the set time
    later = utcnow() + timedelta(minutes=61)
    pipeline.plan_dispatch(now=later)
    db.session.execute(sa.update(Delivery).values(scheduled_at=utcnow(), claimed_at=None))
    db.session.commit()
    run_pipeline(campaign.id)
    subjects = [email.message_from_bytes(m.data)["Subject"] for m in sink.messages]
    assert subjects.count("Beta") == in_b + rest
    winner = db.session.scalar(sa.select(CampaignVariant.key).where(CampaignVariant.is_winner))
    assert winner == "B"
    assert db.session.get(Campaign, campaign.id).snapshot["ab_winner"] == "B"


def test_frequency_cap_and_quiet_hours(app, sink):
    project, first, lst = setup_campaign(3)
    launch(project, first)
    run_pipeline(first.id)
    project.settings = {**project.settings, "frequency_cap_7d": 1}
    db.session.commit()
    second = make_campaign(project, make_sender(project), make_template(project), [lst])
    launch(project, second)
    run_pipeline(second.id)
    assert {(d.status, d.reason) for d in deliveries(second.id)} == {
        (DeliveryStatus.SUPPRESSED, "frequency cap")
    }
    project.settings = {
        **project.settings,
        "frequency_cap_7d": None,
        "quiet_hours": {"start": "00:00", "end": "23:59"},
    }
    db.session.commit()
    third = make_campaign(project, make_sender(project), make_template(project), [lst])
    launch(project, third)
    run_pipeline(third.id)
    rows = deliveries(third.id)
    assert {(d.status, d.attempts) for d in rows} == {(DeliveryStatus.QUEUED, 0)}
    assert all(d.scheduled_at > utcnow() for d in rows)
    assert len(sink.messages) == 3


def test_bounce_rate_guardrail_pauses_the_campaign(app, sink):
    from tests.factories import add_contacts

    project, campaign, lst = setup_campaign(5, guardrails={"max_bounce_rate": 0.1, "min_sample": 5})
    bad = [f"gone{i}@example.org" for i in range(5)]
    add_contacts(project, lst, bad)
    sink.rcpt_rules.update(dict.fromkeys(bad, "550 5.1.1 unknown user"))
    launch(project, campaign)
    run_pipeline(campaign.id)
    stored = db.session.get(Campaign, campaign.id)
    assert stored.status == CampaignStatus.PAUSED
    assert stored.paused_reason.startswith("auto-paused: hard bounce rate")


def test_canary_share_goes_first(app, sink):
    project, campaign, _ = setup_campaign(
        100, guardrails={"canary_share": 0.1, "canary_minutes": 30, "min_sample": 5}
    )
    launch(project, campaign)
    pipeline.prepare_deliveries(campaign.id)
    run_pipeline(campaign.id)
    assert 5 <= len(sink.messages) <= 15
    progress = campaign_progress(project.id, campaign.id)
    assert progress["queued"] == 100 - len(sink.messages)


def test_segment_audience_joins_the_lists_and_suppression_still_wins(app, sink):
    from mailapp.models import Segment

    project, campaign, lst = setup_campaign(2)
    from tests.factories import add_contacts, make_list

    other = make_list(project, 0)
    add_contacts(project, other, ["vip@example.org", "vip2@example.org", "plain@example.org"])
    db.session.execute(sa.text("UPDATE contacts SET first_name = 'VIP' WHERE email LIKE 'vip%'"))
    segment = Segment(
        project_id=project.id,
        name="vips",
        rule={"field": "first_name", "op": "eq", "value": "VIP"},
    )
    db.session.add(segment)
    db.session.commit()
    suppress(project.id, "vip2@example.org", SuppressionReason.MANUAL, actor=TEST_ACTOR)
    campaign.audience = {"lists": [lst.id], "segment_id": segment.id}
    db.session.commit()
    launch(project, campaign)
    run_pipeline(campaign.id)
    received = sorted(r for m in sink.messages for r in m.rcpt_tos)
    assert "vip@example.org" in received
    assert "vip2@example.org" not in received
    assert "plain@example.org" not in received
    assert len(received) == 3


def test_the_demo_campaign_passes_preflight_and_is_delivered(app, sink):
    from mailapp.delivery.launch import launch_campaign, preflight
    from mailapp.models import Project
    from mailapp.seed import seed_demo

    project = seed_demo(owner=None, actor=TEST_ACTOR)
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.project_id == project.id))
    failed = [c for c in preflight(project, campaign) if c.blocking and not c.ok]
    assert failed == []
    launch_campaign(db.session.get(Project, project.id), campaign.id, actor=TEST_ACTOR)
    app.config.update(SEND_GROUP_SIZE=100, DISPATCH_BATCH_SIZE=500)
    run_pipeline(campaign.id)
    progress = campaign_progress(project.id, campaign.id)
    assert progress["sent"] == len(sink.messages) > 0
    assert progress["queued"] == progress["sending"] == 0
