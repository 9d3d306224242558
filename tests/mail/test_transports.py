import pytest

from mailapp.mail.transports import SendResult, SmtpTransport
from tests.support.smtp_sink import SmtpSink

MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(params=[True, False], ids=["pipelining", "sequential"])
def sink(request):
    sink = SmtpSink(
        pipelining=request.param,
        rcpt_rules={
            "gone@example.org": "550 5.1.1 user unknown",
            "busy@example.org": "452 4.2.2 mailbox full",
        },
        data_rules={"spam@example.org": "554 5.7.1 rejected as spam"},
    ).start()
    yield sink
    sink.stop()


def test_messages_share_one_connection(sink):
    transport = SmtpTransport(sink.url)
    for i in range(5):
        result = transport.send("bounces@example.com", f"r{i}@example.org", MESSAGE)
        assert result.outcome == "sent"
        assert result.code == 250
    transport.close()
    assert len(sink.messages) == 5
    assert sink.connections == 1
    assert sink.messages[0].rcpt_tos == ["r0@example.org"]


@pytest.mark.parametrize(
    ("rcpt", "outcome", "code", "enhanced"),
    [
        ("gone@example.org", "failed", 550, "5.1.1"),
        ("busy@example.org", "deferred", 452, "4.2.2"),
        ("spam@example.org", "failed", 554, "5.7.1"),
    ],
)
def test_refusals_are_classified_and_the_connection_stays_usable(
    sink, rcpt, outcome, code, enhanced
):
    transport = SmtpTransport(sink.url)
    result = transport.send("bounces@example.com", rcpt, MESSAGE)
    assert (result.outcome, result.code, result.enhanced_code) == (outcome, code, enhanced)
    assert transport.send("bounces@example.com", "ok@example.org", MESSAGE).outcome == "sent"
    transport.close()
    assert [m.rcpt_tos for m in sink.messages] == [["ok@example.org"]]


def test_reconnects_when_the_server_went_away(sink):
    transport = SmtpTransport(sink.url)
    assert transport.send("a@example.com", "r1@example.org", MESSAGE).outcome == "sent"
    transport._conn.sock.close()  # the server dropped our idle connection
    assert transport.send("a@example.com", "r2@example.org", MESSAGE).outcome == "sent"
    assert len(sink.messages) == 2


def test_unreachable_server_defers():
    from tests.support.servers import free_port

    result = SmtpTransport(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(
        "a@example.com", "b@example.org", MESSAGE
    )
    assert result.outcome == "deferred"
    assert result.code is None


def test_enhanced_code_parsing():
    assert SendResult("failed", 550, "5.1.1 <x>: user unknown").enhanced_code == "5.1.1"
    assert SendResult("failed", 550, "user unknown").enhanced_code is None


def test_pool_shares_connections_between_threads_and_reopens_dropped_ones(sink):
    import threading

    from mailapp.mail.transports import TransportPool

    pool = TransportPool(2, timeout=5)

    def send_many(start):
        for i in range(start, start + 10):
            with pool.connection(sink.url) as transport:
                assert transport.send("a@example.com", f"r{i}@example.org", MESSAGE).outcome == (
                    "sent"
                )

    threads = [threading.Thread(target=send_many, args=(n * 10,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sink.messages) == 40
    assert sink.connections <= 2  # four threads, at most two connections, kept open
    with pool.connection(sink.url) as transport:
        transport._conn.sock.close()  # the server dropped it while idle
    with pool.connection(sink.url) as transport:
        assert transport.send("a@example.com", "late@example.org", MESSAGE).outcome == "sent"
    pool.close()


def test_connection_lost_after_data_is_unknown_not_retried():
    from tests.support.smtp_sink import SmtpSink

    class DroppingSink(SmtpSink):
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            server.transport.close()
            return "451 gone"

    sink = DroppingSink().start()
    try:
        result = SmtpTransport(sink.url, timeout=5).send("a@example.com", "b@example.org", MESSAGE)
    finally:
        sink.stop()
    assert result.outcome == "unknown"
    assert "after DATA" in result.reply


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "sequential"])
def test_lines_starting_with_a_dot_arrive_intact(pipelining):
    sink = SmtpSink(pipelining=pipelining).start()
    body = b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend"
    try:
        transport = SmtpTransport(sink.url, timeout=5)
        assert transport.send("a@example.com", "b@example.org", body).outcome == "sent"
        assert transport.send("a@example.com", "c@example.org", b"." + body).outcome == "sent"
        transport.close()
    finally:
        sink.stop()
    assert [m.data for m in sink.messages] == [body + b"\r\n", b"." + body + b"\r\n"]


def test_pipelined_refusal_at_mail_from_leaves_the_connection_usable():
    class PickySink(SmtpSink):
        async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
            if address == "blocked@example.com":
                return "553 5.7.1 sender refused"
            envelope.mail_from = address
            return "250 OK"

    sink = PickySink().start()
    try:
        transport = SmtpTransport(sink.url, timeout=5)
        refused = transport.send("blocked@example.com", "b@example.org", MESSAGE)
        assert (refused.outcome, refused.code, refused.enhanced_code) == ("failed", 553, "5.7.1")
        assert transport.send("a@example.com", "b@example.org", MESSAGE).outcome == "sent"
        transport.close()
    finally:
        sink.stop()
    assert [(m.mail_from, m.rcpt_tos) for m in sink.messages] == [
        ("a@example.com", ["b@example.org"])
    ]
    assert sink.connections == 1


class OneMessagePerConnectionSink(SmtpSink):
    """Takes one message per connection, then answers the next MAIL with 421 as a server
    closing an idle or used-up connection does; a fresh connection's first MAIL can be
    refused with 421 too (`busy`), as a server asking us to slow down."""

    busy: bool = False

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        if self.busy or getattr(session, "mails", 0):
            return "421 4.4.2 mx.example.org Error: timeout exceeded"
        session.mails = 1
        envelope.mail_from = address
        return "250 OK"


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "sequential"])
def test_a_421_on_a_reused_connection_reconnects_instead_of_deferring(pipelining):
    sink = OneMessagePerConnectionSink(pipelining=pipelining).start()
    try:
        transport = SmtpTransport(sink.url, timeout=5)
        results = [transport.send("a@example.com", f"r{i}@example.org", MESSAGE) for i in range(3)]
        assert [(r.outcome, r.code) for r in results] == [("sent", 250)] * 3
        assert sink.connections == 3
        # A fresh connection's 421 is the server's answer: deferred, with its code.
        sink.busy = True
        refused = transport.send("a@example.com", "r9@example.org", MESSAGE)
        assert (refused.outcome, refused.code) == ("deferred", 421)
        assert sink.connections == 4  # after the reused one, a single fresh one
        transport.close()
    finally:
        sink.stop()
    assert [m.rcpt_tos for m in sink.messages] == [[f"r{i}@example.org"] for i in range(3)]


def test_a_421_naming_a_policy_is_not_retried_on_a_new_connection():
    class RateLimitingSink(SmtpSink):
        async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
            if getattr(session, "mails", 0):
                return "421 4.7.0 mx.example.org too many messages, slow down"
            session.mails = 1
            envelope.mail_from = address
            return "250 OK"

    sink = RateLimitingSink().start()
    try:
        transport = SmtpTransport(sink.url, timeout=5)
        assert transport.send("a@example.com", "r1@example.org", MESSAGE).outcome == "sent"
        refused = transport.send("a@example.com", "r2@example.org", MESSAGE)
        assert (refused.outcome, refused.code, refused.enhanced_code) == ("deferred", 421, "4.7.0")
        transport.close()
    finally:
        sink.stop()
    assert sink.connections == 1


def test_a_long_idle_connection_is_replaced_before_use(sink, monkeypatch):
    import mailapp.mail.transports as transports

    transport = SmtpTransport(sink.url)
    assert transport.send("a@example.com", "r1@example.org", MESSAGE).outcome == "sent"
    assert transport.send("a@example.com", "r2@example.org", MESSAGE).outcome == "sent"
    assert sink.connections == 1
    monkeypatch.setattr(transports, "MAX_IDLE_SECONDS", 0.0)
    assert transport.send("a@example.com", "r3@example.org", MESSAGE).outcome == "sent"
    transport.close()
    assert sink.connections == 2
    assert len(sink.messages) == 3


@pytest.mark.parametrize(
    ("rules", "relay_fault"),
    [
        ({"rcpt_rules": {"x@example.org": "452 4.2.2 mailbox full"}}, False),  # the address
        ({"rcpt_rules": {"x@example.org": "550 5.1.1 user unknown"}}, False),
        ({"data_rules": {"x@example.org": "451 4.3.0 queue full, try later"}}, True),  # relay's
        ({"data_rules": {"x@example.org": "451 4.7.1 slow down"}}, False),  # throttling
        ({"data_rules": {"x@example.org": "554 5.7.1 rejected as spam"}}, False),
    ],
)
def test_replies_say_whether_the_relay_or_the_recipient_is_at_fault(rules, relay_fault):
    sink = SmtpSink(**rules).start()
    transport = SmtpTransport(sink.url, timeout=5)
    try:
        result = transport.send("a@example.com", "x@example.org", MESSAGE)
    finally:
        transport.close()
        sink.stop()
    assert result.relay_fault is relay_fault
