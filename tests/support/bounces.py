"""Returned mail for tests: an RFC 3464 report to a VERP address, and a delivery whose
Return-Path a real SMTP server accepted."""

from __future__ import annotations

import email.utils

from mailapp.mail.transports import SmtpTransport
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner
from tests.factories import make_contact, make_delivery, make_sent_campaign
from tests.support.smtp_sink import SmtpSink

BOUNCE_DOMAIN = "bounces.example.com"


def dsn(verp: str, address: str, status: str, diagnostic: str, action: str = "failed") -> bytes:
    """A Postfix-style RFC 3464 report returned to the VERP address."""
    return (
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {email.utils.formatdate()}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        f"--b1\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        f"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nOriginal-Recipient: rfc822;{address}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: news@example.com\r\nTo: {address}\r\nSubject: Spring news\r\n\r\n--b1--\r\n"
    ).encode()


def sent_delivery(app, project, email_address="ada@example.org"):
    """A delivery handed to a real SMTP server with its VERP Return-Path."""
    contact = make_contact(project, email_address)
    campaign = make_sent_campaign(project)
    delivery = make_delivery(campaign, contact, status="sent", sent_at=utcnow())
    verp = LinkSigner.from_app().verp_address(delivery.id, BOUNCE_DOMAIN)
    sink = SmtpSink().start()
    try:
        transport = SmtpTransport(sink.url)
        result = transport.send(verp, contact.email, b"Subject: Spring news\r\n\r\nHello\r\n")
        transport.close()
    finally:
        sink.stop()
    assert result.outcome == "sent"
    return contact, delivery, sink.messages[0].mail_from
