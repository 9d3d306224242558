"""The Mailgun transport against a real local HTTP server: the raw MIME posted untouched (so
the DKIM signature holds), HTTP basic auth, and each answer mapped to an outcome."""

from __future__ import annotations

import base64
import email
from email import policy

import pytest

from mailapp.mail.mailgun import MailgunTransport
from mailapp.mail.transports import open_transport
from tests.support.http_receiver import Receiver
from tests.support.servers import free_port

MESSAGE = (
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel1; b=abc\r\n"
    b"From: news@example.com\r\nTo: ann@example.org\r\nSubject: hi\r\n\r\n"
    b".a line starting with a dot\r\nhello\r\n"
)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def url_of(receiver: Receiver) -> str:
    port = receiver.server.server_port
    return f"mailgun+http://api:key-s3cret@127.0.0.1:{port}/v3/example.com"


def test_the_message_goes_as_raw_mime_with_basic_auth(receiver):
    transport = MailgunTransport(url_of(receiver))
    result = transport.send("bounces+x@example.com", "ann@example.org", MESSAGE)
    assert (result.outcome, result.relay_fault) == ("sent", False)
    path, headers, body = receiver.requests[0]
    assert path == "/v3/example.com/messages.mime"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"api:key-s3cret").decode()
    form = email.message_from_bytes(
        f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body,
        policy=policy.HTTP,
    )
    parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
    assert parts["to"].get_content().strip() == "ann@example.org"
    assert MESSAGE in body  # byte for byte: the signature still verifies
    # The connection is kept for the next message.
    assert transport.send("b@example.com", "bob@example.org", MESSAGE).outcome == "sent"
    assert len(receiver.requests) == 2
    transport.close()


@pytest.mark.parametrize(
    ("status", "outcome", "relay_fault"),
    [
        (429, "deferred", True),
        (500, "deferred", True),
        (503, "deferred", True),
        (401, "deferred", True),  # a wrong key: another transport may take it
        (400, "failed", False),
    ],
)
def test_answers_map_to_outcomes(receiver, status, outcome, relay_fault):
    receiver.statuses = [status]
    result = open_transport(url_of(receiver)).send("b@example.com", "ann@example.org", MESSAGE)
    assert (result.outcome, result.relay_fault) == (outcome, relay_fault)
    assert result.reply.startswith(f"HTTP {status}")


def test_an_unreachable_api_is_the_relays_fault():
    url = f"mailgun+http://api:k@127.0.0.1:{free_port()}/v3/example.com"
    result = MailgunTransport(url, timeout=2).send("b@example.com", "ann@example.org", MESSAGE)
    assert (result.outcome, result.code, result.relay_fault) == ("deferred", None, True)


def test_private_addresses_are_refused_unless_allowed(receiver):
    port = receiver.server.server_port
    url = f"mailgun+https://api:k@127.0.0.1:{port}/v3/example.com"
    result = MailgunTransport(url, timeout=2).send("b@example.com", "ann@example.org", MESSAGE)
    assert result.outcome == "deferred"
    assert "non-public address 127.0.0.1" in result.reply
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "mailgun+http://api:k@api.mailgun.net/v3/example.com",  # plain HTTP off loopback
        "mailgun+https://api.mailgun.net/v3/example.com",  # no key
        "mailgun+https://api:k@api.mailgun.net/messages",  # no domain
    ],
)
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError, match=r"(?i)mailgun"):
        MailgunTransport(url)
