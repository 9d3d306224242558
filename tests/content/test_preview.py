"""Preview for a chosen or sample contact, and a test send received by a real SMTP sink."""

import email
import email.policy

import dkim
import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.content.preview import (
    parse_recipients,
    preview_document,
    render_preview,
    send_test,
)
from mailapp.content.templates import Content, create_template
from mailapp.delivery.senders import dkim_dns_record, generate_dkim_key
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import AuditLog, Sender
from tests.factories import make_contact, make_project
from tests.support.smtp_sink import SmtpSink

HTML = (
    '<p>Hallo {{ contact.first_name | default("du") }} aus {{ contact.attributes.city }}</p>'
    '<p><a href="{{ unsubscribe_url }}">Abmelden</a></p>'
)


@pytest.fixture
def sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def make_version(project, **content):
    fields = {"subject": "Grüße an {{ contact.first_name }}", "html": HTML} | content
    template = create_template(project, "T", Content(**fields), actor=Actor.system())
    return template.versions[0]


def test_preview_for_sample_and_chosen_contact(app):
    with app.app_context():
        project = make_project()
        version = make_version(project, locale_variants={"fr": {"subject": "Salut"}})
        sample = render_preview(project, version)
        assert "Hallo Alex aus Springfield" in sample.html
        contact = make_contact(project, first_name="Zoë", locale="fr",
                               attributes={"city": "<Köln>"})  # fmt: skip
        chosen = render_preview(project, version, contact_id=contact.id)
        assert "Hallo Zoë aus &lt;Köln&gt;" in chosen.html
        assert chosen.subject == "Salut"  # the contact's locale picks the variant
        with pytest.raises(ServiceError, match="no contact"):
            render_preview(project, version, contact_id=make_contact(make_project()).id)


def test_dark_preview_document():
    html = "<html><head><title>x</title></head><body>x</body></html>"
    assert preview_document(html) == html
    dark = preview_document(html, dark=True)
    assert "invert(1)" in dark.split("</head>")[0]


def test_recipients_are_validated_and_capped():
    assert parse_recipients("a@example.org, b@example.org\nA@example.org") == [
        "a@example.org", "b@example.org", "A@example.org",
    ]  # fmt: skip
    with pytest.raises(ServiceError, match="at most 10"):
        parse_recipients([f"u{i}@example.org" for i in range(11)])
    with pytest.raises(ServiceError, match="not-an-address"):
        parse_recipients("ok@example.org, not-an-address")
    with pytest.raises(ServiceError, match="at least one"):
        parse_recipients(" , ")


def test_test_send_arrives_signed_and_marked(app, sink):
    key = generate_dkim_key()
    with app.app_context():
        project = make_project()
        sender = Sender(project_id=project.id, name="News", from_name="Shop Ü",
                        from_email="news@shop.example", domain="shop.example",
                        bounce_domain="bounces.shop.example", dkim_selector="s1",
                        dkim_private_key=key, transport_url=sink.url)  # fmt: skip
        db.session.add(sender)
        db.session.commit()
        version = make_version(project)
        results = send_test(project, version.id, "qa1@example.org, qa2@example.org",
                            sender_id=sender.id, actor=Actor.system("qa"))  # fmt: skip
        assert [(r.address, r.result.outcome) for r in results] == [
            ("qa1@example.org", "sent"), ("qa2@example.org", "sent"),
        ]  # fmt: skip
        audit = db.session.scalar(
            sa.select(AuditLog).where(AuditLog.action == "template.test_send")
        )
        assert audit.context["recipients"] == 2
        assert audit.context["sent"] == 2

    assert [m.rcpt_tos for m in sink.messages] == [["qa1@example.org"], ["qa2@example.org"]]
    record = dkim_dns_record(key).encode()
    for received in sink.messages:
        assert received.mail_from == "bounces@bounces.shop.example"
        assert dkim.verify(received.data, dnsfunc=lambda _name, timeout=5: record)  # noqa: ARG005
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        assert message["Subject"] == "[TEST] Grüße an Alex"
        assert message["From"] == "Shop Ü <news@shop.example>"
        assert "Hallo Alex aus Springfield" in message.get_body(("html",)).get_content()


def test_test_send_needs_a_sender_of_the_project(app):
    with app.app_context():
        project = make_project()
        version = make_version(project)
        with pytest.raises(ServiceError, match="no sender"):
            send_test(project, version.id, "a@example.org", sender_id=999, actor=Actor.system())
