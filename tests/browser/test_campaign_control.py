"""The campaign control room in headless Chromium: status and progress follow the sending."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.admin.display import format_when
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from mailapp.models.base import utcnow
from tests.factories import make_contact, make_delivery, make_project, make_sent_campaign, make_user
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def live(page, name: str) -> str:
    return page.locator(f"[data-live={name}]").inner_text()


def test_details_follow_the_campaign_until_it_is_sent(app, page):
    project = make_project()
    marketer = make_user(project, "marketer", email="marketer@example.com")
    campaign = make_sent_campaign(
        project, name="Live campaign", status=CampaignStatus.SENDING, launched_at=utcnow()
    )
    for _ in range(4):
        make_delivery(campaign, make_contact(project), status=DeliveryStatus.QUEUED)
    log_in(page, marketer.email)
    page.goto(f"/admin/campaign/details/?id={campaign.id}")
    assert live(page, "status") == "Sending"
    assert live(page, "finished_at") == ""
    assert page.locator("button[value=pause]").is_visible()
    assert not page.locator("button[value=resume]").is_visible()

    # The workers finish while the page is open.
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.campaign_id == campaign.id)
        .values(status=DeliveryStatus.SENT, sent_at=utcnow())
    )
    row = db.session.get(Campaign, campaign.id)
    row.status, row.finished_at = CampaignStatus.SENT, utcnow()
    db.session.commit()

    page.wait_for_function("document.querySelector('[data-live=status]').textContent === 'Sent'")
    assert page.locator("#campaign-status").inner_text() == "Sent"
    assert live(page, "finished_at") == format_when(row.finished_at)  # the project's zone
    assert page.locator("#progress-counts [data-count=sent]").inner_text() == "4"
    assert page.locator("#progress-counts [data-count=queued]").inner_text() == "0"
    assert not page.locator("button[value=pause]").is_visible()
    assert not page.locator("button[value=cancel]").is_visible()
