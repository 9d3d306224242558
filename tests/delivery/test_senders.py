"""DKIM keys generated for a sender: new dated selector, encrypted at rest, audited."""

import dkim
import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.delivery.senders import (
    dkim_dns_record,
    dkim_record_name,
    dkim_txt_strings,
    generate_sender_key,
)
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.mail.dkim import signer_for
from mailapp.models import AuditLog, Sender
from tests.factories import make_project


def test_generated_key_signs_verifiable_mail_and_is_encrypted_at_rest(app):
    with app.app_context():
        project = make_project()
        sender = Sender(
            project_id=project.id,
            name="N",
            from_name="Shop",
            from_email="news@shop.example",
            domain="shop.example",
        )
        db.session.add(sender)
        db.session.commit()
        assert signer_for(sender) is None
        generate_sender_key(project, sender.id, actor=Actor.system("admin"))

        stored = db.session.execute(
            sa.text("SELECT dkim_private_key FROM senders WHERE id = :id"), {"id": sender.id}
        ).scalar()
        assert "PRIVATE KEY" not in stored
        assert sender.dkim_selector.startswith("m")
        assert dkim_record_name(sender) == f"{sender.dkim_selector}._domainkey.shop.example"
        record = dkim_dns_record(sender.dkim_private_key)
        assert "".join(dkim_txt_strings(record)) == record
        assert all(len(s) <= 255 for s in dkim_txt_strings(record))

        signed = signer_for(sender).sign(
            b"From: news@shop.example\r\nTo: a@example.org\r\nSubject: x\r\n\r\nhi\r\n"
        )
        assert dkim.verify(signed, dnsfunc=lambda _name, timeout=5: record.encode())  # noqa: ARG005

        audit = db.session.scalar(
            sa.select(AuditLog).where(AuditLog.action == "sender.dkim_generate")
        )
        assert audit.context["selector"] == sender.dkim_selector
        assert "BEGIN" not in str(audit.context)

        with pytest.raises(ServiceError, match="no sender"):
            generate_sender_key(make_project(), sender.id, actor=Actor.system())
