"""The campaign report in headless Chromium: logged in as an analyst, offline, no CDN."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailapp.feedback.events import record_events
from tests.factories import (
    links_of,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
    make_user,
)
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def test_analyst_reads_the_campaign_report(app, app_server, page):
    project = make_project()
    analyst = make_user(project, "analyst", email="analyst@example.com")
    campaign = make_sent_campaign(
        project,
        ["https://shop.example.com/a", "https://shop.example.com/b"],
        name="Browser campaign",
        snapshot={"html": '<h1>Hello</h1><p><a href="https://shop.example.com/a">Buy</a></p>'},
    )
    first, second = links_of(campaign)
    deliveries = [make_delivery(campaign, make_contact(project)) for _ in range(4)]
    at = datetime(2026, 5, 4, 10, tzinfo=UTC)
    rows = []
    for n, delivery in enumerate(deliveries):
        base = {
            "project_id": project.id,
            "occurred_at": at,
            "campaign_id": campaign.id,
            "contact_id": delivery.contact_id,
            "delivery_id": delivery.id,
            "message_id": None,
            "payload": {},
        }
        rows.append({**base, "type": "open", "link_id": None, "is_machine": n == 3})
        if n < 2:
            rows.append({**base, "type": "click", "link_id": first.id, "is_machine": False})
    record_events(rows)

    requested_hosts = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))
    log_in(page, analyst.email)
    page.goto("/admin/analytics/")
    page.click("#campaign-reports a:has-text('Browser campaign')")
    page.wait_for_selector("#summary")

    assert page.locator("[data-metric=sent]").inner_text() == "4"
    assert page.locator("[data-metric=unique_opens]").inner_text() == "3"
    assert page.locator("[data-metric=machine_opens]").inner_text() == "1"
    assert page.locator("[data-metric=unique_clicks]").inner_text() == "2"
    assert page.locator("#timeline svg polyline").count() == 4
    assert page.locator(f"#links tr[data-link='{first.id}'] td").nth(2).inner_text() == "2"
    assert page.locator(f"#links tr[data-link='{second.id}'] td").nth(2).inner_text() == "0"
    # The click map shows the email itself with the link's clicks drawn on it.
    frame = page.frame_locator("#clickmap")
    assert frame.locator("h1").inner_text() == "Hello"
    assert "2 · 100%" in frame.locator(f"[data-link='{first.id}']").inner_text()
    # Everything came from our own server: the back office works offline.
    assert requested_hosts == {app_server.split("/")[2]}
