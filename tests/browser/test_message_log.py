"""Support in Chromium answers "did the password reset reach ada@example.org?": the activity
log, a search, the message's timeline and body, and a resend."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.models import DeliveryStatus, EventType, Message, MessageAttempt
from mailapp.models.base import utcnow
from tests.factories import make_project, make_sender, make_template, make_user, submit_tx
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def _history(project) -> Message:
    """A password reset greylisted once, then accepted and opened; and other traffic."""
    template = make_template(
        project,
        html="<p>Hello,</p><p>Reset your password: <a href='https://shop.example/reset'>"
        "choose a new one</a>. The link works for one hour.</p>",
        subject="Reset your password",
    )
    template.name = "Password reset"
    sent = utcnow() - timedelta(minutes=20)
    for n in range(3):
        other = submit_tx(project, f"customer{n}@example.org", tags=["receipt"])
        other.status, other.last_reply = DeliveryStatus.SENT, "250 2.0.0 Ok: queued"
    reset = submit_tx(project, "ada@example.org", template_id=template.id, tags=["password-reset"])
    reset.created_at = sent - timedelta(minutes=2)
    reset.status, reset.sent_at, reset.attempts = DeliveryStatus.SENT, sent, 2
    reset.last_reply, reset.message_id = "250 2.0.0 Ok: queued as 4F2A", "<message.4@example.com>"
    db.session.add_all(
        [
            MessageAttempt(project_id=project.id, message_id=reset.id, outcome="deferred",
                           attempted_at=sent - timedelta(minutes=1),
                           reply="451 4.7.1 Greylisted, please try again in 60 seconds"),
            MessageAttempt(project_id=project.id, message_id=reset.id, outcome="sent",
                           attempted_at=sent, reply="250 2.0.0 Ok: queued as 4F2A"),
        ]
    )  # fmt: skip
    db.session.commit()
    record_events(
        [
            {"project_id": project.id, "type": EventType.OPEN, "message_id": reset.id,
             "occurred_at": sent + timedelta(seconds=2), "is_machine": True,
             "payload": {"machine": "prefetch"}},
            {"project_id": project.id, "type": EventType.OPEN, "message_id": reset.id,
             "occurred_at": sent + timedelta(minutes=5), "is_machine": False},
        ]
    )  # fmt: skip
    return reset


def test_support_finds_the_message_reads_its_history_and_resends_it(app, page, tmp_path):
    project = make_project("shop")
    make_sender(project)
    make_user(project, "support", email="support@example.com")
    reset = _history(project)
    log_in(page, "support@example.com")

    page.goto("/admin/")
    page.click("text=Transactional")
    page.click("text=Activity log")
    page.wait_for_selector("#message-log")
    page.screenshot(path=tmp_path / "01-activity-log.png", full_page=True)
    assert page.locator("#message-log tbody tr").count() == 4

    page.fill("#q", "Ada@Example.org")
    page.click("button:has-text('Show')")
    page.wait_for_selector(f"tr[data-message-id='{reset.id}']")
    page.screenshot(path=tmp_path / "02-search.png", full_page=True)
    assert page.locator("#message-log tbody tr").count() == 1
    row = page.inner_text(f"tr[data-message-id='{reset.id}']")
    assert "Password reset" in row
    assert "password-reset" in row
    assert "Sent" in row

    page.click(f"tr[data-message-id='{reset.id}'] a")
    page.wait_for_selector("#timeline")
    frame = page.frame_locator("iframe[title='message body']")
    assert "choose a new one" in frame.locator("body").inner_text()
    page.screenshot(path=tmp_path / "03-detail.png", full_page=True)
    timeline = page.inner_text("#timeline")
    assert "Attempt 1: Deferred by the receiving server" in timeline
    assert "451 4.7.1 Greylisted" in timeline
    assert "Attempt 2: Accepted by the receiving server" in timeline
    assert "Opened by a machine" in timeline
    assert "Opened\n" in timeline
    assert "Reset your password" in page.inner_text("#headers")

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("text=Resend as a new message")
    page.wait_for_selector("text=Sent again as a new message")
    page.screenshot(path=tmp_path / "04-resent.png", full_page=True)
    db.session.expire_all()
    copy = db.session.scalar(sa.select(Message).where(Message.resend_of_id == reset.id))
    assert copy is not None
    assert f"Message #{copy.id}" in page.inner_text("h2")
    assert f"resend of #{reset.id}" in page.inner_text("#timeline")
