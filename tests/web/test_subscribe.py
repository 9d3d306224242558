"""Double opt-in end to end: form -> confirmation mail over real SMTP -> link -> consent."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from dramatiq import Worker

from mailapp.audience.lists import create_list
from mailapp.audience.suppression import is_suppressed, suppress
from mailapp.extensions import db
from mailapp.models import (
    AuditLog,
    ConsentRecord,
    Contact,
    ContactStatus,
    ListMembership,
    MembershipStatus,
    OptIn,
    Project,
    SuppressionReason,
)
from tests.factories import TEST_ACTOR, make_contact, make_project
from tests.support.smtp_sink import SmtpSink
from workers.broker import broker


@pytest.fixture
def sink(app) -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    app.config["SMTP_URL"] = server.url
    yield server
    server.stop()


def csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()


def deliver_queued_mail() -> None:
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.join("mail")
        worker.join()
    finally:
        worker.stop()


def confirmation_link(sink: SmtpSink, to: str) -> str:
    (mail,) = [m for m in sink.messages if to in m.rcpt_tos]
    message = email.message_from_bytes(mail.data, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://mail\.test(/subscribe/confirm/\S+)", text).group(1)


def _list(app, opt_in=OptIn.DOUBLE, **fields):
    with app.app_context():
        project = make_project()
        mailing_list = create_list(
            project.id,
            "Weekly",
            opt_in=opt_in,
            is_public=True,
            consent_text="I want the weekly news.",
            consent_version="v3",
            actor=TEST_ACTOR,
            **fields,
        )
        return project.id, mailing_list.id, mailing_list.token


def submit(client, token: str, **data) -> object:
    page = client.get(f"/subscribe/{token}")
    assert page.status_code == 200
    return client.post(
        f"/subscribe/{token}",
        data={"csrf_token": csrf(page.data), **data},
        headers={"User-Agent": "TestBrowser/1.0"},
    )


def test_double_opt_in_end_to_end(app, client, sink) -> None:
    project_id, list_id, token = _list(app)
    response = submit(client, token, email="Reader@Example.com", first_name="Rea", consent="y")
    assert response.status_code == 200
    assert b"Check your inbox" in response.data
    with app.app_context():
        membership = db.session.scalar(sa.select(ListMembership))
        assert membership.status is MembershipStatus.UNCONFIRMED
    deliver_queued_mail()
    link = confirmation_link(sink, "reader@example.com")

    page = client.get(link)  # a link scanner's GET confirms nothing
    assert b"Yes, subscribe me" in page.data
    with app.app_context():
        assert db.session.scalar(sa.select(ListMembership.status)) is MembershipStatus.UNCONFIRMED
    confirmed = client.post(
        link, data={"csrf_token": csrf(page.data)}, headers={"User-Agent": "Mailer/2"}
    )
    assert b"Subscription confirmed" in confirmed.data
    with app.app_context():
        membership = db.session.scalar(sa.select(ListMembership))
        assert membership.status is MembershipStatus.CONFIRMED
        records = db.session.scalars(sa.select(ConsentRecord).order_by(ConsentRecord.id)).all()
        request, confirmation = records
        assert (request.source, request.form_version, request.confirmed_at) == (
            "form",
            "hosted-1",
            None,
        )
        assert request.user_agent == "TestBrowser/1.0"
        assert confirmation.source == "form:confirmed"
        assert confirmation.consent_text_version == "v3"
        assert confirmation.ip == "127.0.0.1"
        assert confirmation.user_agent == "Mailer/2"
        assert confirmation.confirmed_at is not None
        assert confirmation.list_id == list_id
        contact = db.session.get(Contact, membership.contact_id)
        assert (contact.email, contact.first_name, contact.project_id) == (
            "reader@example.com",
            "Rea",
            project_id,
        )


def test_honeypot_consent_and_rate_limit(app, client, sink) -> None:
    _, _, token = _list(app)
    assert submit(client, token, email="bot@example.com", website="http://spam").status_code == 200
    assert submit(client, token, email="x@example.com").status_code == 400  # consent missing
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    app.config["SUBSCRIBE_RATE_LIMIT"] = (2, 3600)
    codes = [
        submit(client, token, email=f"r{i}@example.com", consent="y").status_code for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_private_list_and_bad_links(app, client) -> None:
    with app.app_context():
        project = make_project()
        private = create_list(project.id, "Staff", actor=TEST_ACTOR).token
    assert client.get(f"/subscribe/{private}").status_code == 404
    assert client.get("/subscribe/nope").status_code == 404
    assert client.get("/subscribe/confirm/1-2-3-abc").status_code == 410


def test_suppressed_address_needs_fresh_confirmation(app, client, sink) -> None:
    project_id, list_id, token = _list(app, opt_in=OptIn.SINGLE)
    with app.app_context():
        make_contact(db.session.get(Project, project_id), "back@example.com")
        suppress(project_id, "back@example.com", SuppressionReason.UNSUBSCRIBE, actor=TEST_ACTOR)
    response = submit(client, token, email="back@example.com", consent="y")
    assert b"Check your inbox" in response.data  # single opt-in list, but suppressed
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditLog.action)).all()
        assert "list.resubscribe_suppressed" in actions
        assert is_suppressed(project_id, "back@example.com")
    deliver_queued_mail()
    link = confirmation_link(sink, "back@example.com")
    page = client.get(link)
    client.post(link, data={"csrf_token": csrf(page.data)})
    with app.app_context():
        assert not is_suppressed(project_id, "back@example.com")
        contact = db.session.scalar(sa.select(Contact).where(Contact.email == "back@example.com"))
        assert contact.status is ContactStatus.ACTIVE
        assert (
            db.session.get(ListMembership, (list_id, contact.id)).status
            is MembershipStatus.CONFIRMED
        )
