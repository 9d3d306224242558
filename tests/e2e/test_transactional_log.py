"""Transactional mail through the API to a real SMTP sink, with the stack's own worker and
scheduler: accepted, greylisted then accepted, refused; a DSN piped to `flask bounces
ingest`; an open and a click. The activity log, a message's timeline, the dashboard and the
API then tell the same story."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from email import policy
from email.parser import BytesParser

import pytest
import sqlalchemy as sa

from mailapp import ROOT
from mailapp.access.apikeys import create_api_key
from mailapp.extensions import db
from mailapp.feedback.tracking.hits import drain_hits
from mailapp.insights.message_dashboard import message_figures
from mailapp.models import FINAL_STATUSES, Message, User
from mailapp.urls import LinkSigner
from tests.admin.conftest import login
from tests.factories import (
    TEST_ACTOR,
    links_of,
    make_project,
    make_sender,
    make_sent_campaign,
    make_user,
)
from tests.support.bounces import dsn
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.e2e

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
ADDRESSES = ("ok", "grey", "gone", "later", "track")


class GreylistingSink(SmtpSink):
    """Refuses the first RCPT of `greylisted` addresses with a 451, accepts the next."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.attempts: Counter[str] = Counter()
        self.greylisted: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.attempts[address] += 1
        if address in self.greylisted and self.attempts[address] == 1:
            return "451 4.7.1 greylisted, come back later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture
def sink():
    sink = GreylistingSink().start()
    yield sink
    sink.stop()


def test_log_timeline_dashboard_and_api_agree_with_what_happened(stack, sink, tmp_path):
    sink.greylisted.add("grey@example.org")
    sink.rcpt_rules["gone@example.org"] = "550 5.1.1 no such user"
    with stack.app.app_context():
        project = make_project()
        make_sender(project, transport_url=sink.url)
        link = links_of(make_sent_campaign(project, ["https://shop.example.com/order"]))[0]
        scopes = ["campaigns.send", "messages.read", "contacts.read"]
        _, key = create_api_key(project.id, "shop", scopes, actor=TEST_ACTOR)
        support_id = make_user(project, "support").id
        project_id, link_id = project.id, link.id
    api = stack.app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    ids = {}
    for name in ADDRESSES:
        body = {
            "to": f"{name}@example.org",
            "content": {"subject": f"Order {name}", "html": "<p>Thanks for your order.</p>"},
            "tags": ["receipt"] if name != "track" else ["receipt", "vip"],
            "track_opens": name == "track",
        }
        response = api.post("/api/v1/messages", json=body, headers=headers)
        assert response.status_code == 201, response.json
        ids[name] = response.json["id"]

    def all_final() -> bool:
        statuses = db.session.scalars(sa.select(Message.status).where(Message.id.in_(ids.values())))
        return all(s in FINAL_STATUSES for s in statuses)

    stack.wait_for(all_final, timeout=120)
    assert sink.attempts["grey@example.org"] == 2

    # The receiving MTA returns "later" afterwards; the MTA pipes the DSN to the command.
    verp = next(m.mail_from for m in sink.messages if m.rcpt_tos == ["later@example.org"])
    report = dsn(verp, "later@example.org", "5.1.1", "550 5.1.1 no such mailbox here")
    ingest = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "bounces", "ingest"],
        input=report,
        cwd=ROOT,
        env=stack.worker.env,
        capture_output=True,
        timeout=60,
    )
    assert ingest.returncode == 0, ingest.stderr.decode()

    with stack.app.app_context():
        sent_at = db.session.get(Message, ids["track"]).sent_at
        # The pixel as the recipient's mail carries it; transactional links are not rewritten,
        # so the click is one on a signed link of the project, as a tracked one would be.
        mail = next(m for m in sink.messages if m.rcpt_tos == ["track@example.org"])
        html = BytesParser(policy=policy.default).parsebytes(mail.data).get_body(("html",))
        opened = re.search(r'src="([^"]*/t/o/[^"]+)"', html.get_content())[1]
        clicked = LinkSigner.from_app("message").click_url(ids["track"], link_id)
    time.sleep(max(0.0, 11 - (time.time() - sent_at.timestamp())))  # after any prefetch
    for url in (opened, clicked):
        hit = api.get(url.removeprefix("http://mail.test"), headers={"User-Agent": BROWSER})
        assert hit.status_code in (200, 302)
    with stack.app.app_context():
        drain_hits()

    with stack.app.app_context():
        browser = login(stack.app.test_client(), db.session.get(User, support_id))
    log = browser.get("/admin/messages/", query_string={"tag": "receipt"}).data.decode()
    for name in ADDRESSES:
        assert f"{name}@example.org" in log
    assert log.count(">Sent</span>") == 4
    assert log.count(">Failed</span>") == 1
    grey = browser.get(f"/admin/messages/{ids['grey']}/").data.decode()
    assert "Attempt 1: Deferred by the receiving server" in grey
    assert "451 4.7.1 greylisted" in grey
    assert "Attempt 2: Accepted by the receiving server" in grey
    gone = browser.get(f"/admin/messages/{ids['gone']}/").data.decode()
    assert "Attempt 1: Refused by the receiving server" in gone
    assert "550 5.1.1 no such user" in gone
    later = browser.get(f"/admin/messages/{ids['later']}/").data.decode()
    assert "Bounced (permanent)" in later
    assert "no such mailbox here" in later
    assert "The returned report as received" in later

    with stack.app.app_context():
        total, by_tag = message_figures(project_id, "tag")
    metrics = total.metrics
    assert (total.accepted, metrics.sent, metrics.bounced, metrics.delivered) == (5, 5, 2, 3)
    assert (metrics.unique_opens, metrics.unique_clicks) == (1, 1)
    vip = next(f for f in by_tag if f.value == "vip")
    assert (vip.metrics.sent, vip.metrics.unique_opens) == (1, 1)
    assert total.latency(0.5) is not None

    listed = api.get("/api/v1/messages?tag=receipt", headers=headers).json["data"]
    assert {m["to"]: m["status"] for m in listed} == {
        "ok@example.org": "sent",
        "grey@example.org": "sent",
        "gone@example.org": "failed",
        "later@example.org": "sent",
        "track@example.org": "sent",
    }
    events = api.get(f"/api/v1/messages/{ids['track']}/events", headers=headers).json["data"]
    kinds = [(e["kind"], e["machine"]) for e in events]
    assert ("open", False) in kinds
    assert ("click", False) in kinds
