"""Settings → Domain set-up in headless Chromium: the records to copy, Check now against the
tests' DNS server, each problem in words, then all good once the records are published."""

from __future__ import annotations

import pytest

from tests.factories import make_project, make_sender, make_user
from tests.support.browser import log_in
from tests.support.dns_zones import BOUNCE_MX, OUR_SPF, good_zone

pytestmark = pytest.mark.browser


def test_owner_publishes_the_records_and_checks_them(app, page, tmp_path, dns_server):
    app.config.update(DNS_RESOLVER=dns_server.address, DNS_TIMEOUT=2.0)
    app.config.update(SPF_INCLUDE=OUR_SPF, BOUNCE_MX_HOST=BOUNCE_MX)
    project = make_project("acme")
    make_user(project, "owner", email="owner@example.com")
    sender = make_sender(project)
    log_in(page, "owner@example.com")
    page.click("#admin-navbar-collapse >> text=Settings")
    page.click("#admin-navbar-collapse >> text=Domain set-up")
    page.click(f"tr[data-sender='{sender.id}'] >> text=Set up")
    page.wait_for_selector("#records")
    assert "sel1._domainkey.example.com" in page.inner_text("tr[data-purpose=DKIM]")
    page.click("text=Check now")
    page.wait_for_selector("#results")
    page.screenshot(path=tmp_path / "01-nothing-published.png", full_page=True)
    assert page.locator("#results tr[data-level=error]").count() >= 4
    assert "No DKIM record at sel1._domainkey.example.com" in page.inner_text("#results")

    dns_server.set(good_zone(sender.dkim_private_key))
    page.click("text=Check now")
    page.wait_for_selector("text=everything is in place")
    page.screenshot(path=tmp_path / "02-all-good.png", full_page=True)
    assert page.locator("#results tr[data-level=error]").count() == 0
    assert "The DKIM record at sel1._domainkey.example.com matches the key." in page.inner_text(
        "#results"
    )
