"""Bounce reasons in headless Chromium: an owner sets what a block does on Sending rules,
returned mail arrives, and the campaign report breaks its bounces down by reason."""

from __future__ import annotations

import pytest

from mailapp.extensions import db
from mailapp.feedback.inbound import ingest_message
from mailapp.models import Campaign, Project
from mailapp.models.base import utcnow
from mailapp.urls import LinkSigner
from tests.factories import TEST_ACTOR, make_contact, make_delivery, make_project, make_user
from tests.support.bounces import BOUNCE_DOMAIN, dsn, sent_delivery
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def test_owner_sets_a_rule_per_reason_and_reads_bounces_by_reason(app, page, tmp_path):
    project = make_project("acme")
    make_user(project, "owner", email="owner@example.com")
    log_in(page, "owner@example.com")
    page.goto("/admin/settings/#bounce-rules")
    page.screenshot(path=tmp_path / "01-bounce-rules.png", full_page=True)
    select = "select[name='bounce_actions.policy_blocked']"
    assert page.input_value(select) == "record"
    page.select_option(select, "count")
    page.click("text=Save sending rules")
    page.wait_for_selector("text=Saved:")
    page.screenshot(path=tmp_path / "02-saved.png", full_page=True)
    assert "Bounce rule: Blocked by the receiver's policy: record → count" in page.inner_text(
        "#recent-changes"
    )
    db.session.expire_all()
    settings = db.session.get(Project, project.id).settings
    assert settings["bounce_actions"]["policy_blocked"] == "count"

    contact, delivery, verp = sent_delivery(app, project)
    ingest_message(
        dsn(verp, contact.email, "5.1.1", "550 5.7.1 Client host blocked using Spamhaus"),
        source="pipe",
        actor=TEST_ACTOR,
    )
    # A second recipient of the same campaign, whose address does not exist.
    campaign = db.session.get(Campaign, delivery.campaign_id)
    other = make_delivery(
        campaign, make_contact(project, "bob@example.org"), status="sent", sent_at=utcnow()
    )
    other_verp = LinkSigner.from_app().verp_address(other.id, BOUNCE_DOMAIN)
    ingest_message(
        dsn(other_verp, "bob@example.org", "5.1.1", "550 5.1.1 <bob@example.org>: User unknown"),
        source="pipe",
        actor=TEST_ACTOR,
    )
    page.goto(f"/admin/analytics/campaign/{delivery.campaign_id}/")
    page.wait_for_selector("#bounce-reasons")
    page.locator("#bounce-reasons").scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "03-report.png", full_page=True)
    blocked = page.locator("#bounce-reasons tr[data-reason=policy_blocked]").inner_text()
    assert "Blocked by the receiver's policy" in blocked
    assert "Count as a soft bounce" in blocked
    unknown = page.locator("#bounce-reasons tr[data-reason=user_unknown]").inner_text()
    assert "User unknown" in unknown
    assert "Suppress at once" in unknown

    page.goto("/admin/inboundmessage/")
    page.screenshot(path=tmp_path / "04-returned-mail.png", full_page=True)
    assert "Blocked by the receiver's policy" in page.inner_text("body")
