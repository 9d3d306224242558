"""DESIGN §4 guarantees with real processes: a Dramatiq worker, the scheduler, PostgreSQL,
Redis and an SMTP sink. Never twice, never silently lost, stop means stop, suppression wins."""

from __future__ import annotations

import email
import time
from collections import Counter

import dkim
import pytest
import sqlalchemy as sa

from mailapp.audience.suppression import is_suppressed, suppress
from mailapp.delivery.campaigns import (
    campaign_progress,
    cancel_campaign,
    pause_campaign,
    resume_campaign,
)
from mailapp.delivery.senders import dkim_dns_record
from mailapp.extensions import db
from mailapp.models import (
    FINAL_STATUSES,
    Campaign,
    CampaignStatus,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Project,
    SuppressionReason,
)
from tests.factories import (
    TEST_ACTOR,
    add_contacts,
    dkim_key,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.pipeline import launch
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.e2e


class CountingSink(SmtpSink):
    """Counts RCPT attempts per address, and can drop the connection after DATA."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.attempts: Counter[str] = Counter()
        self.drop_after_data: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.attempts[address] += 1
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.drop_after_data & set(envelope.rcpt_tos):
            server.transport.close()
            return "421 4.4.2 connection dropped"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink():
    sink = CountingSink().start()
    yield sink
    sink.stop()


def received(sink) -> list[str]:
    with sink._lock:
        return [r for m in sink.messages for r in m.rcpt_tos]


def new_campaign(stack, sink, contacts: int, **sender_fields):
    with stack.app.app_context():
        project = make_project()
        sender = make_sender(project, transport_url=sink.url, **sender_fields)
        lst = make_list(project, contacts)
        campaign = make_campaign(project, sender, make_template(project), [lst])
        return project.id, campaign.id, lst.id


def start(stack, project_id, campaign_id):
    with stack.app.app_context():
        launch(db.session.get(Project, project_id), db.session.get(Campaign, campaign_id))


def finished(campaign_id):
    def check():
        return db.session.get(Campaign, campaign_id).status == CampaignStatus.SENT

    return check


def statuses(campaign_id) -> Counter:
    return Counter(
        str(s)
        for s in db.session.scalars(
            sa.select(Delivery.status).where(Delivery.campaign_id == campaign_id)
        )
    )


def dns(name, timeout=5):
    return dkim_dns_record(dkim_key()).encode()


def test_campaign_of_5000_arrives_once_signed_and_suppression_wins(stack, sink):
    project_id, campaign_id, _ = new_campaign(stack, sink, 5000)
    with stack.app.app_context():
        emails = db.session.scalars(
            sa.select(Contact.email).where(Contact.project_id == project_id).order_by(Contact.id)
        ).all()
        for address in emails[:25]:
            suppress(project_id, address, SuppressionReason.UNSUBSCRIBE, actor=TEST_ACTOR)
    start(stack, project_id, campaign_id)
    stack.wait_for(finished(campaign_id), timeout=120)
    got = received(sink)
    assert len(got) == len(set(got)) == 4975
    assert not set(got) & set(emails[:25])
    for message in sink.messages[::25]:
        assert dkim.verify(message.data, dnsfunc=dns)
        parsed = email.message_from_bytes(message.data)
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        signed = parsed["DKIM-Signature"].replace("\r\n", "").replace("\t", "").replace(" ", "")
        names = signed.split("h=")[1].split(";")[0].split(":")
        assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(names)
    with stack.app.app_context():
        assert campaign_progress(project_id, campaign_id)["sent"] == 4975


def test_killed_workers_never_send_twice_and_lose_nothing(stack, sink):
    project_id, campaign_id, _ = new_campaign(stack, sink, 2000)
    start(stack, project_id, campaign_id)
    kills = 0
    for threshold in (300, 800, 1300):
        stack.wait_for(lambda t=threshold: len(received(sink)) >= t, timeout=90, every=0.05)
        stack.worker.kill()
        kills += 1
        time.sleep(0.5)
        stack.worker.start()
    stack.wait_for(finished(campaign_id), timeout=120)
    got = received(sink)
    assert len(got) == len(set(got))
    with stack.app.app_context():
        counts = statuses(campaign_id)
    assert set(counts) <= {str(s) for s in FINAL_STATUSES}
    assert sum(counts.values()) == 2000
    assert counts.get("unknown", 0) <= kills * stack.in_flight
    # Every row the sink took is recorded sent, except rows caught mid-group by a kill.
    assert len(got) - counts["sent"] <= counts.get("unknown", 0)


def test_smtp_faults_end_as_specified(stack, sink):
    project_id, campaign_id, list_id = new_campaign(stack, sink, 5)
    faults = {
        "t421@example.org": "421 4.7.0 slow down",
        "t451@example.org": "451 4.3.0 try later",
        "t452@example.org": "452 4.2.2 mailbox full",
        "gone@example.org": "550 5.1.1 no such user",
        "big@example.org": "552 5.3.4 message too big",
    }
    sink.rcpt_rules.update(faults)
    sink.drop_after_data.add("drop@example.org")
    with stack.app.app_context():
        from mailapp.models import List

        add_contacts(
            db.session.get(Project, project_id),
            db.session.get(List, list_id),
            [*faults, "drop@example.org"],
        )
    start(stack, project_id, campaign_id)
    stack.wait_for(finished(campaign_id), timeout=90)
    with stack.app.app_context():
        rows = dict(
            db.session.execute(
                sa.select(Contact.email, Delivery)
                .join(Delivery, Delivery.contact_id == Contact.id)
                .where(Delivery.campaign_id == campaign_id)
            ).all()
        )
        # Deferred mail is retried until the queue lifetime (4 s here) is over, then fails
        # with its last reply; a throttle (421) is never counted as a failed attempt.
        for address in ("t421@example.org", "t451@example.org", "t452@example.org"):
            row = rows[address]
            assert row.status == DeliveryStatus.FAILED
            assert row.reason == "expired: still deferred after 4 s"
            assert row.last_reply == faults[address]
            assert sink.attempts[address] >= 2
            counted = 0 if address == "t421@example.org" else sink.attempts[address]
            assert row.attempts == counted
        assert rows["gone@example.org"].status == DeliveryStatus.FAILED
        assert sink.attempts["gone@example.org"] == 1
        assert is_suppressed(project_id, "gone@example.org")
        assert db.session.scalar(
            sa.select(Event.id).where(
                Event.delivery_id == rows["gone@example.org"].id,
                Event.type == EventType.BOUNCE_HARD,
            )
        )
        assert rows["big@example.org"].status == DeliveryStatus.FAILED
        assert sink.attempts["big@example.org"] == 1
        assert not is_suppressed(project_id, "big@example.org")
        assert rows["drop@example.org"].status == DeliveryStatus.UNKNOWN
        assert sink.attempts["drop@example.org"] == 1
        assert statuses(campaign_id)["sent"] == 5
    assert len(received(sink)) == 5


def test_campaign_completes_across_a_redis_restart(stack, sink):
    project_id, campaign_id, _ = new_campaign(stack, sink, 1000)
    start(stack, project_id, campaign_id)
    stack.wait_for(lambda: len(received(sink)) >= 200, timeout=90, every=0.05)
    stack.redis.stop()
    time.sleep(2)
    stack.redis.start()
    stack.wait_for(finished(campaign_id), timeout=120)
    got = received(sink)
    assert len(got) == len(set(got))
    with stack.app.app_context():
        counts = statuses(campaign_id)
    assert sum(counts.values()) == 1000
    assert counts["sent"] + counts.get("unknown", 0) == 1000


def test_pause_stops_within_a_group_and_cancel_sends_nothing_more(stack, sink):
    project_id, campaign_id, _ = new_campaign(stack, sink, 1500, rate_per_second=150)
    start(stack, project_id, campaign_id)
    stack.wait_for(lambda: len(received(sink)) >= 100, timeout=90, every=0.05)
    with stack.app.app_context():
        pause_campaign(db.session.get(Project, project_id), campaign_id, actor=TEST_ACTOR)
    at_pause = len(received(sink))
    time.sleep(3)
    after = len(received(sink))
    assert after - at_pause <= stack.in_flight
    with stack.app.app_context():
        resume_campaign(db.session.get(Project, project_id), campaign_id, actor=TEST_ACTOR)
    stack.wait_for(lambda: len(received(sink)) >= after + 200, timeout=90, every=0.05)
    with stack.app.app_context():
        cancel_campaign(db.session.get(Project, project_id), campaign_id, actor=TEST_ACTOR)
    at_cancel = len(received(sink))
    time.sleep(3)
    final = len(received(sink))
    assert final - at_cancel <= stack.in_flight
    assert final < 1500
    # Groups a worker held at cancel record their outcomes when they end; then every row
    # is final: none waits for a campaign that will never send it.
    finals = {str(s) for s in FINAL_STATUSES}
    stack.wait_for(lambda: set(statuses(campaign_id)) <= finals, timeout=30)
    with stack.app.app_context():
        counts = statuses(campaign_id)
    assert counts["failed"] >= 1500 - final - stack.in_flight
    assert sum(counts.values()) == 1500
    assert len(received(sink)) == len(set(received(sink)))
