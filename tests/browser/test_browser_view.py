"""The "view in browser" copy in headless Chromium: an opaque origin that runs no script, and
whose tracked links still take the reader, through the click redirect, to the target."""

from __future__ import annotations

import email
import re

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.tracking.hits import drain_hits
from mailapp.models import Event, EventType
from tests.factories import HTML, make_project, make_template
from tests.support.pipeline import pipeline_sink, send_campaign

pytestmark = pytest.mark.browser
VIEW = '\n<p><a href="{{ view_in_browser_url }}">View in your browser</a></p>'


def test_the_copy_is_sandboxed_and_its_links_lead_to_the_target(app, page, app_server):
    app.config["BASE_URL"] = app_server
    with app.app_context(), pipeline_sink(app) as sink:
        project = make_project()
        send_campaign(
            project,
            make_template(project, HTML + VIEW),
            1,
            utm={"utm_campaign": "{{ campaign.slug }}"},
            name="Browser test",
        )
        (message,) = sink.messages
    html = (
        next(
            p
            for p in email.message_from_bytes(message.data).walk()
            if p.get_content_type() == "text/html"
        )
        .get_payload(decode=True)
        .decode()
    )
    view_url = re.search(r'href="(http://127\.0\.0\.1:\d+/v/[^"]+)"', html)[1]
    landed = []

    def target(route):
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>Landed</p>")

    page.route("https://example.com/**", target)
    page.goto(view_url)
    page.wait_for_selector("text=Hello N0")
    assert page.evaluate("window.origin") == "null"  # sandboxed: no cookies, no storage
    # An inline script runs at once when inserted, where scripts may run at all.
    ran = page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'document.body.dataset.ran = "yes"';
            document.body.appendChild(script);
            return document.body.dataset.ran === "yes";
        }"""
    )
    assert ran is False
    page.click("text=the news")
    page.wait_for_selector("text=Landed")
    assert landed == ["https://example.com/news?utm_campaign=browser-test"]
    with app.app_context():
        assert drain_hits() == 1
        engaged = sa.select(Event.type).where(Event.type.in_([EventType.OPEN, EventType.CLICK]))
        assert db.session.scalars(engaged).all() == [EventType.CLICK]  # the click, no open
