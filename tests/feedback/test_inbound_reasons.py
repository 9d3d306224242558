"""Returned mail end to end: any input is kept, never a crash; the reason decides the rule."""

from __future__ import annotations

import json
import random

import sqlalchemy as sa

from mailapp.access.project_settings import update_sending_settings
from mailapp.extensions import db
from mailapp.feedback.inbound import ingest_message
from mailapp.models import (
    AuditLog,
    Contact,
    Event,
    EventType,
    InboundMessage,
    Suppression,
    SuppressionReason,
)
from tests.factories import TEST_ACTOR, make_project
from tests.support.bounces import BOUNCE_DOMAIN, dsn, sent_delivery
from tests.support.corpus import FLANKER

REAL = (FLANKER / "bounce/gmail-invalid-address.eml").read_bytes()


def fuzzed_inputs() -> list[bytes]:
    """Truncated, binary, header-less, mangled and JSON inputs."""
    rng = random.Random(14)  # noqa: S311 - reproducible fuzz, not secrets
    cuts = [REAL[:n] for n in (1, 40, 300, len(REAL) // 2, len(REAL) - 7)]
    flipped = bytearray(REAL)
    for i in rng.sample(range(len(flipped)), 200):
        flipped[i] = rng.randrange(256)
    return [
        *cuts,
        bytes(flipped),
        bytes(rng.randrange(256) for _ in range(4000)),
        b"\x00\xff" * 500,
        b"no headers at all, just a line\r\n\r\nand a body\r\n",
        # No From: (flufl.bounce's Yale detector raised IndexError on it).
        b"To: bounces+x@example.com\r\nSubject: Returned mail\r\n\r\nUser unknown\r\n",
        b"Content-Type: multipart/report; boundary=\r\n\r\n--\r\n--\r\n",
        b'Content-Type: text/plain; charset="no-such-charset"\r\nFrom: a@b.example\r\n\r\n\xe9\r\n',
        REAL.replace(b"\n", b"\r"),
    ]


def test_any_input_is_stored_with_a_classification_and_the_pipe_exits_0_or_65(app):
    with app.app_context():
        runner = app.test_cli_runner()
        for raw in fuzzed_inputs():
            result = runner.invoke(args=["bounces", "ingest"], input=raw)
            assert result.exit_code in (0, 65), (raw[:80], result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit)
            row = db.session.scalars(sa.select(InboundMessage).order_by(InboundMessage.id.desc()))
            row = row.first()
            assert row is not None
            assert (row.raw, bool(row.classification)) == (raw, True)
            assert (result.exit_code == 65) == (row.classification == "not_mail")
        kept = db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage))
        assert kept == len(fuzzed_inputs())


def test_a_json_webhook_body_piped_by_mistake_is_kept_and_refused_for_good(app):
    body = json.dumps({"event": "bounce", "email": "ada@example.org", "reason": "550"})
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["bounces", "ingest"], input=body.encode())
        # EX_DATAERR: the MTA returns it instead of retrying it forever.
        assert result.exit_code == 65
        row = db.session.scalar(sa.select(InboundMessage))
        assert (row.classification, row.project_id, row.raw) == ("not_mail", None, body.encode())
        entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "feedback.ingest"))
        assert entry.context["classification"] == "not_mail"
        empty = app.test_cli_runner().invoke(args=["bounces", "ingest"], input=b"  \n")
        assert empty.exit_code == 65


def test_a_bounce_without_from_is_read_not_crashed_on(app):
    with app.app_context():
        project = make_project()
        contact, delivery, verp = sent_delivery(app, project)
        raw = (
            f"To: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n"
            f"<{contact.email}>: host mx.example.org said: 550 5.1.1 User unknown\r\n"
        ).encode()
        result = app.test_cli_runner().invoke(args=["bounces", "ingest"], input=raw)
        assert result.exit_code == 0, result.output
        assert "bounce_hard (user_unknown)" in result.output
        row = db.session.scalar(sa.select(InboundMessage))
        assert (row.delivery_id, row.reason) == (delivery.id, "user_unknown")


def blocked(verp: str, address: str) -> bytes:
    return dsn(verp, address, "5.1.1", "550 5.7.1 Service unavailable; client host blocked "
               "using zen.spamhaus.org")  # fmt: skip


def test_a_block_over_a_dsn_status_of_user_unknown_is_recorded_and_suppresses_nothing(app):
    with app.app_context():
        project = make_project()
        contact, _, verp = sent_delivery(app, project)
        inbound = ingest_message(blocked(verp, contact.email), source="pipe", actor=TEST_ACTOR)
        assert (inbound.classification, inbound.reason) == ("bounce_soft", "policy_blocked")
        [event] = db.session.scalars(sa.select(Event)).all()
        assert (event.type, event.payload["bounce_reason"]) == (
            EventType.BOUNCE_SOFT,
            "policy_blocked",
        )
        # The default rule for blocks: record only; the address is not at fault.
        assert db.session.scalar(sa.select(Suppression)) is None
        assert db.session.get(Contact, contact.id).soft_bounces == 0


def test_a_project_rule_per_reason_decides_what_a_bounce_does(app):
    with app.app_context():
        project = make_project()
        update_sending_settings(
            project,
            {"bounce_actions.policy_blocked": "suppress", "bounce_actions.user_unknown": "count"},
            actor=TEST_ACTOR,
        )
        contact, _, verp = sent_delivery(app, project)
        ingest_message(blocked(verp, contact.email), source="pipe", actor=TEST_ACTOR)
        entry = db.session.scalar(sa.select(Suppression))
        assert entry.reason == SuppressionReason.SOFT_BOUNCE
        assert "policy_blocked" in entry.note

        other, _, other_verp = sent_delivery(app, project, "bob@example.org")
        hard = dsn(other_verp, other.email, "5.1.1", "550 5.1.1 user unknown")
        assert ingest_message(hard, source="pipe", actor=TEST_ACTOR).classification == (
            "bounce_hard"
        )
        # Counted, not suppressed: the project chose so for user unknown.
        assert db.session.get(Contact, other.id).soft_bounces == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 1


def test_the_delivery_the_verp_address_names_gets_its_own_recipients_verdict(app):
    # A report naming two recipients, one full and one unknown: the VERP delivery is the full
    # one, which must not be suppressed as the other's hard bounce.
    with app.app_context():
        project = make_project()
        contact, delivery, verp = sent_delivery(app, project)
        raw = dsn(verp, contact.email, "5.2.2", "552 5.2.2 mailbox full").replace(
            b"\r\n\r\n--b1\r\nContent-Type: text/rfc822-headers",
            b"\r\n\r\nFinal-Recipient: rfc822; zed@example.org\r\nAction: failed\r\n"
            b"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            b"--b1\r\nContent-Type: text/rfc822-headers",
        )
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert inbound.recipients == f"{contact.email}, zed@example.org"
        assert (inbound.delivery_id, inbound.classification, inbound.reason) == (
            delivery.id,
            "bounce_soft",
            "mailbox_full",
        )
        assert db.session.scalar(sa.select(Suppression)) is None


def test_a_bounce_naming_no_address_still_applies_to_the_verp_delivery(app):
    with app.app_context():
        project = make_project()
        contact, delivery, verp = sent_delivery(app, project)
        raw = (
            f"From: MAILER-DAEMON@mx.example.net\r\nTo: {verp}\r\nSubject: Delivery failure\r\n"
            "\r\nSorry, the mailbox of the person you wrote to is full.\r\n"
        ).encode()
        inbound = ingest_message(raw, source="pipe", actor=TEST_ACTOR)
        assert (inbound.delivery_id, inbound.classification, inbound.reason) == (
            delivery.id,
            "bounce_soft",
            "mailbox_full",
        )
        assert db.session.get(Contact, contact.id).soft_bounces == 1
        assert BOUNCE_DOMAIN in verp
