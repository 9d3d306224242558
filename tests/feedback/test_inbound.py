"""Returned mail end to end: VERP mapping, events, suppression, contact status, policy."""

from __future__ import annotations

import mailbox
from datetime import timedelta

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.inbound import ingest_message
from mailapp.feedback.mailboxes import ingest_maildir, ingest_mbox
from mailapp.models import (
    AuditLog,
    Contact,
    ContactStatus,
    DailyStat,
    Event,
    EventType,
    InboundMessage,
    Message,
    Suppression,
    SuppressionReason,
)
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_project,
)
from tests.support.bounces import BOUNCE_DOMAIN, dsn, sent_delivery
from tests.support.corpus import FLANKER


def events(event_type):
    return db.session.scalars(sa.select(Event).where(Event.type == event_type)).all()


def test_hard_bounce_to_verp_address_suppresses_and_marks_contact(app):
    with app.app_context():
        project = make_project()
        contact, delivery, return_path = sent_delivery(app, project)
        raw = dsn(return_path, contact.email, "5.1.1", "550 5.1.1 <ada@example.org>: no such user")
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)

        assert (inbound.project_id, inbound.delivery_id) == (project.id, delivery.id)
        assert inbound.classification == "bounce_hard"
        assert inbound.status_code == "5.1.1"
        assert inbound.raw == raw
        [event] = events(EventType.BOUNCE_HARD)
        assert (event.delivery_id, event.contact_id, event.campaign_id) == (
            delivery.id,
            contact.id,
            delivery.campaign_id,
        )
        assert event.payload["status"] == "5.1.1"
        assert "no such user" in event.payload["diagnostic"]
        entry = db.session.scalar(sa.select(Suppression))
        assert (entry.email, entry.reason) == ("ada@example.org", SuppressionReason.HARD_BOUNCE)
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED
        stat = db.session.scalar(sa.select(DailyStat).where(DailyStat.type == "bounce_hard"))
        assert stat.count == 1
        assert db.session.scalar(
            sa.select(AuditLog.context).where(AuditLog.action == "feedback.ingest")
        ) == {
            "source": "pipe",
            "classification": "bounce_hard",
            "reason": "user_unknown",
            "outcome": "suppressed (hard_bounce)",
        }
        assert (inbound.reason, event.payload["bounce_reason"]) == ("user_unknown", "user_unknown")


def test_soft_bounces_count_quarantine_then_suppress_at_the_project_limit(app):
    with app.app_context():
        project = make_project()
        contact, _delivery, verp = sent_delivery(app, project)
        raw = dsn(verp, contact.email, "5.2.2", "552 5.2.2 mailbox full")
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        contact = db.session.get(Contact, contact.id)
        assert (contact.soft_bounces, contact.quarantined, contact.status) == (1, False, "active")
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        db.session.expire_all()
        contact = db.session.get(Contact, contact.id)
        assert (contact.soft_bounces, contact.quarantined) == (2, True)
        assert db.session.scalar(sa.select(Suppression)) is None
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)  # the default limit is 3
        db.session.expire_all()
        assert db.session.scalar(sa.select(Suppression.reason)) == SuppressionReason.SOFT_BOUNCE
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED
        assert len(events(EventType.BOUNCE_SOFT)) == 3


def test_soft_bounces_outside_the_window_do_not_add_up(app):
    with app.app_context():
        project = make_project()
        project.settings = {**project.settings, "soft_bounce_limit": 2}
        db.session.commit()
        contact, _delivery, verp = sent_delivery(app, project)
        raw = dsn(verp, contact.email, "4.2.2", "452 4.2.2 over quota")
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        db.session.execute(sa.update(Event).values(occurred_at=utcnow() - timedelta(days=31)))
        db.session.commit()
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert db.session.scalar(sa.select(Suppression)) is None
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert db.session.scalar(sa.select(Suppression.reason)) == SuppressionReason.SOFT_BOUNCE


def test_policy_block_is_soft_not_hard(app):
    with app.app_context():
        project = make_project()
        contact, _, verp = sent_delivery(app, project)
        raw = dsn(verp, contact.email, "5.7.1", "550 5.7.1 rejected: poor IP reputation")
        assert ingest_message(raw, source="pipe", actor=TEST_ACTOR).classification == "bounce_soft"
        assert db.session.scalar(sa.select(Suppression)) is None


def test_delay_and_auto_reply_are_kept_but_change_nothing(app):
    with app.app_context():
        project = make_project()
        contact, _, verp = sent_delivery(app, project)
        delay = dsn(verp, contact.email, "4.4.7", "timed out", action="delayed")
        auto = (
            f"From: Ada <ada@example.org>\r\nTo: {verp}\r\nSubject: Out of office\r\n"
            "Auto-Submitted: auto-replied\r\n\r\nBack on Monday.\r\n"
        ).encode()
        assert ingest_message(delay, source="pipe", actor=TEST_ACTOR).classification == "delay"
        assert ingest_message(auto, source="pipe", actor=TEST_ACTOR).classification == "auto_reply"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0
        assert db.session.get(Contact, contact.id).soft_bounces == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 2


def test_unknown_report_is_recorded_as_unknown_never_guessed(app):
    with app.app_context():
        project = make_project()
        contact, _, verp = sent_delivery(app, project)
        raw = dsn(verp, contact.email, "5.0.0", "550 something went wrong")
        assert ingest_message(raw, source="pipe", actor=TEST_ACTOR).classification == "unknown"
        assert len(events(EventType.UNKNOWN)) == 1
        assert db.session.scalar(sa.select(Suppression)) is None


def test_forged_verp_token_maps_to_nothing(app):
    with app.app_context():
        project = make_project()
        contact, _delivery, verp = sent_delivery(app, project)
        local, domain = verp.split("@")
        forged = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
        # The address alone names a contact of one project: that is how a foreign or
        # forged VERP bounce is still matched, but by address only.
        other = make_project()
        make_contact(other, contact.email)
        raw = dsn(forged, contact.email, "5.1.1", "550 5.1.1 user unknown")
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert inbound.project_id is None
        assert db.session.scalar(sa.select(Suppression)) is None


def test_bounce_without_verp_maps_by_message_id(app):
    with app.app_context():
        project = make_project()
        contact = make_contact(project, "grace@example.org")
        message = Message(
            project_id=project.id,
            recipient=contact.email,
            contact_id=contact.id,
            status="sent",
            message_id="<abc.123@mail.example.com>",
        )
        db.session.add(message)
        db.session.commit()
        raw = dsn("news@example.com", contact.email, "5.1.1", "550 5.1.1 unknown").replace(
            b"Subject: Spring news\r\n",
            b"Subject: Receipt\r\nMessage-ID: <abc.123@mail.example.com>\r\n",
        )
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert inbound.project_id == project.id
        [event] = events(EventType.BOUNCE_HARD)
        assert (event.message_id, event.delivery_id) == (message.id, None)
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED


def test_arf_complaint_suppresses_at_once(app):
    with app.app_context():
        project = make_project()
        contact, delivery, verp = sent_delivery(app, project, "user@yahoo.com")
        raw = (FLANKER / "complaints/yahoo.eml").read_bytes()
        raw = raw.replace(b"<bounce+705f77.d4a-user=yahoo.com@example.com>", f"<{verp}>".encode())
        inbound = ingest_message(raw, source="imap", actor=TEST_ACTOR)
        assert (inbound.classification, inbound.delivery_id) == ("complaint", delivery.id)
        [event] = events(EventType.COMPLAINT)
        assert event.payload["feedback_type"] == "abuse"
        assert db.session.scalar(sa.select(Suppression.reason)) == SuppressionReason.COMPLAINT
        assert db.session.get(Contact, contact.id).status == ContactStatus.COMPLAINED


def test_mailto_unsubscribe_address_unsubscribes(app):
    with app.app_context():
        project = make_project()
        contact, delivery, _ = sent_delivery(app, project)
        token = LinkSigner.from_app().unsubscribe_url(delivery.id).rsplit("/", 1)[1]
        raw = (
            f"From: {contact.email}\r\nTo: unsubscribe+{token}@{BOUNCE_DOMAIN}\r\n"
            "Subject: unsubscribe\r\n\r\n"
        ).encode()
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert inbound.classification == "unsubscribe"
        assert len(events(EventType.UNSUBSCRIBE)) == 1
        assert db.session.scalar(sa.select(Suppression.reason)) == SuppressionReason.UNSUBSCRIBE
        assert db.session.get(Contact, contact.id).status == ContactStatus.UNSUBSCRIBED


def test_unsubscribe_token_in_subject_for_the_bare_address(app):
    with app.app_context():
        project = make_project()
        contact, delivery, _ = sent_delivery(app, project)
        url = LinkSigner.from_app().unsubscribe_url(delivery.id)
        raw = (
            f"From: {contact.email}\r\nTo: unsubscribe@{BOUNCE_DOMAIN}\r\n"
            f"Subject: Unsubscribe {url}\r\n\r\n"
        ).encode()
        assert ingest_message(raw, source="pipe", actor=TEST_ACTOR).classification == "unsubscribe"
        assert db.session.get(Contact, contact.id).status == ContactStatus.UNSUBSCRIBED


def test_forged_unsubscribe_token_changes_nothing(app):
    with app.app_context():
        project = make_project()
        contact, _delivery, _ = sent_delivery(app, project)
        raw = (
            f"From: {contact.email}\r\nTo: unsubscribe+1-aaaaaaaaaaaaaaaa@{BOUNCE_DOMAIN}\r\n"
            "Subject: unsubscribe\r\n\r\n"
        ).encode()
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert inbound.project_id is None
        assert db.session.get(Contact, contact.id).status == ContactStatus.ACTIVE


def test_cli_ingests_stdin_maildir_and_mbox(app, tmp_path):
    with app.app_context():
        project = make_project()
        contact, _, verp = sent_delivery(app, project)
        raw = dsn(verp, contact.email, "5.1.1", "550 5.1.1 user unknown")
        runner = app.test_cli_runner()
        result = runner.invoke(args=["bounces", "ingest"], input=raw)
        assert result.exit_code == 0, result.output
        assert "bounce_hard" in result.output

        box = mailbox.Maildir(tmp_path / "Maildir")
        box.add(raw)
        box.add((FLANKER / "bounce/no-mx.eml").read_bytes())
        result = runner.invoke(args=["bounces", "ingest", "--maildir", str(tmp_path / "Maildir")])
        assert "ingested 2 messages" in result.output, result.output
        # Read messages are flagged: a second run finds nothing new.
        result = runner.invoke(args=["bounces", "ingest", "--maildir", str(tmp_path / "Maildir")])
        assert "ingested 0 messages" in result.output

        mbox = mailbox.mbox(tmp_path / "bounces.mbox")
        mbox.add(raw)
        mbox.close()
        assert ingest_mbox(tmp_path / "bounces.mbox", actor=TEST_ACTOR) == 1
        sources = db.session.scalars(sa.select(InboundMessage.source)).all()
        assert sorted(sources) == ["maildir", "maildir", "mbox", "pipe"]
        assert ingest_maildir(tmp_path / "Maildir", actor=TEST_ACTOR) == 0


def test_list_unsubscribe_mailto_to_the_verp_address(app):
    # The send pipeline's header: List-Unsubscribe: <https://...>, <mailto:VERP?subject=unsubscribe>
    with app.app_context():
        project = make_project()
        contact, delivery, verp = sent_delivery(app, project)
        raw = (f"From: {contact.email}\r\nTo: {verp}\r\nSubject: unsubscribe\r\n\r\n").encode()
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert (inbound.classification, inbound.delivery_id) == ("unsubscribe", delivery.id)
        [event] = events(EventType.UNSUBSCRIBE)
        assert event.delivery_id == delivery.id
        assert db.session.get(Contact, contact.id).status == ContactStatus.UNSUBSCRIBED
        # A second request changes nothing more.
        ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert len(events(EventType.UNSUBSCRIBE)) == 1


def test_pipe_asks_the_mta_to_retry_when_ingest_fails(app):
    with app.app_context():
        runner = app.test_cli_runner()
        # The message cannot be stored: it must not be lost, the MTA must keep and retry it.
        db.session.execute(sa.text("DROP TABLE inbound_messages"))
        db.session.commit()
        result = runner.invoke(args=["bounces", "ingest"], input=b"Subject: x\r\n\r\nbody\r\n")
        assert result.exit_code == 75
