"""Polling the bounce mailbox over IMAP and POP3 against a real Dovecot on 127.0.0.1."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.feedback.mailboxes import poll_configured_mailbox, poll_mailbox
from mailapp.models import Contact, ContactStatus, InboundMessage
from tests.factories import TEST_ACTOR, make_project
from tests.support.bounces import dsn, sent_delivery
from tests.support.corpus import FLANKER
from tests.support.dovecot import DovecotServer


@pytest.fixture
def dovecot():
    server = DovecotServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("scheme", ["imap", "pop3"])
def test_poll_ingests_new_messages_once(app, dovecot, scheme):
    with app.app_context():
        project = make_project()
        contact, _, verp = sent_delivery(app, project)
        dovecot.deliver(dsn(verp, contact.email, "5.1.1", "550 5.1.1 user unknown"))
        dovecot.deliver((FLANKER / "bounce/no-mx.eml").read_bytes())

        assert poll_mailbox(dovecot.url(scheme), actor=TEST_ACTOR) == 2
        sources = db.session.scalars(sa.select(InboundMessage.source)).all()
        assert sources == [scheme, scheme]
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED
        # IMAP flagged them seen, POP3 deleted them: the next poll finds nothing.
        assert poll_mailbox(dovecot.url(scheme), actor=TEST_ACTOR) == 0


def test_scheduled_poll_reads_the_configured_url(app, dovecot):
    with app.app_context():
        assert poll_configured_mailbox(None, actor=TEST_ACTOR) == 0
        dovecot.deliver(b"From: x@example.org\r\nSubject: hi\r\n\r\nhello\r\n")
        assert poll_configured_mailbox(dovecot.url("pop3"), actor=TEST_ACTOR) == 1


def test_bad_credentials_and_urls_fail_loudly(app, dovecot):
    with app.app_context():
        with pytest.raises(ServiceError):
            poll_mailbox("https://example.com/", actor=TEST_ACTOR)
        wrong = dovecot.url("imap").replace(dovecot.password, "wrong")
        with pytest.raises(Exception, match=r"(?i)auth"):
            poll_mailbox(wrong, actor=TEST_ACTOR)
