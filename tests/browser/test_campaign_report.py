"""The reports in headless Chromium, as an analyst: one campaign sent through the real
pipeline shows the same figures on the home page, the dashboard and its report; the click
map is the message as a recipient got it; offline, no CDN."""

from __future__ import annotations

import pytest

from mailapp.admin.charts import SERIES_COLORS
from tests.factories import make_user
from tests.support.browser import log_in
from tests.support.reports import midday, send_and_track

pytestmark = pytest.mark.browser


@pytest.fixture
def at_midday(tmp_path):
    with midday(tmp_path):
        yield


def test_analyst_reads_the_same_figures_everywhere(app, app_server, page, tmp_path, at_midday):
    project, campaign, _segment, news, docs = send_and_track(app)
    analyst = make_user(project, "analyst", email="analyst@example.com")
    requested_hosts = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, analyst.email)

    page.goto("/admin/")
    page.screenshot(path=tmp_path / "01-home.png", full_page=True)
    stats = page.locator("#home-stats")
    assert stats.locator("[data-metric=delivered]").inner_text() == "6"
    assert stats.locator("[data-metric=sent]").inner_text() == "8"

    page.goto("/admin/analytics/?days=7")
    page.screenshot(path=tmp_path / "02-dashboard.png", full_page=True)
    assert page.locator("[data-total=delivered]").inner_text() == "6"
    assert page.locator("[data-total=open]").inner_text() == "4"
    opens = page.locator("#trend-chart g.series[data-name=opens] polyline")
    assert opens.get_attribute("stroke") == SERIES_COLORS["open"]

    page.click(f"#top-campaigns a:has-text('{campaign.name}')")
    page.wait_for_selector("#summary")
    page.screenshot(path=tmp_path / "03-report.png", full_page=True)
    assert page.locator("#summary [data-metric=sent]").inner_text() == "8"
    assert page.locator("#summary [data-metric=delivered]").inner_text() == "6"
    assert page.locator("#summary [data-metric=unique_opens]").inner_text() == "3"
    assert "sent minus hard and soft bounces" in page.locator("#definition").inner_text()
    # Sent today: an hourly line with a point for every hour since launch, not one dot.
    hourly = page.locator("#timeline-hourly g.series[data-name=opens] polyline")
    assert hourly.get_attribute("stroke") == SERIES_COLORS["open"]
    assert len(hourly.get_attribute("points").split()) >= 2
    assert page.locator("#domains tr[data-domain='gmail.com'] td").nth(1).inner_text() == "5"
    assert "Apple Mail" in page.locator("#clients").inner_text()
    assert "Mobile" in page.locator("#devices").inner_text()
    # The click map is the message its first recipient got, with each link's clicks.
    frame = page.frame_locator("#clickmap")
    assert "Hello N0," in frame.locator("body").inner_text()
    assert "{{" not in frame.locator("body").inner_text()
    assert "2 · 67%" in frame.locator(f"[data-link='{news.id}']").inner_text()
    assert "1 · 33%" in frame.locator(f"[data-link='{docs.id}']").inner_text()
    page.locator("#clickmap").scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "04-click-map.png", full_page=True)
    # Everything came from our own server: the back office works offline.
    assert requested_hosts == {app_server.split("/")[2]}
